using System.Text;
using LbProxy.Edge;
using LbProxy.Forwarding;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace LbProxy.Hosting;

/// <summary>
/// Client-side limits for an edge, and the connection caps of both sides derived from the file-descriptor limit
/// (<see cref="FileDescriptorLimit"/>). Values under <c>Kestrel:Limits</c> and <c>LbProxy:Forwarding</c> in the config still win.
/// </summary>
internal static class KestrelEdgeDefaults
{
    public const string DefaultUrls = "http://localhost:8080";

    public static WebApplicationBuilder AddKestrelEdgeDefaults(this WebApplicationBuilder builder)
    {
        // Lines must end in CRLF: a bare LF is read differently by different parsers, a smuggling vector.
        AppContext.SetSwitch("Microsoft.AspNetCore.Server.Kestrel.DisableHttp1LineFeedTerminators", true);

        if (string.IsNullOrEmpty(builder.Configuration[WebHostDefaults.ServerUrlsKey])
            && string.IsNullOrEmpty(builder.Configuration["http_ports"]))
        {
            builder.WebHost.UseUrls(DefaultUrls);
        }

        builder.Services.Configure<KestrelServerOptions>(kestrel =>
        {
            kestrel.AddServerHeader = false;
            // Header bytes, while they are still bytes: control bytes in values and non-token names are a 400, obs-text
            // passes as Latin-1 (Edge/RequestHeaderDecoding); and since Kestrel rewrites `Connection: keep-alive, X-Secret`
            // to `keep-alive` before any middleware runs, what the client sent is kept (Edge/ConnectionHeaderCapture).
            kestrel.RequestHeaderEncodingSelector = RequestHeaderDecoding.SelectEncoding;
            // Response header values as Latin-1: an origin's obs-text byte reaches the client unchanged (the upstream
            // client reads it as Latin-1), where Kestrel's ASCII-only default fails the response.
            kestrel.ResponseHeaderEncodingSelector = static _ => Encoding.Latin1;
            // An HTTP/2 client that stops taking response bytes loses its connection, not only the stream (Edge/StalledClientCut).
            // A client that takes response bytes slower than 240 B/s for 30 s while owed some is reset (Edge/SlowReaderCut).
            kestrel.ConfigureEndpointDefaults(static listen => listen
                .Use(ConnectionHeaderCapture.OnConnection)
                .Use(StalledClientCut.OnConnection)
                .Use(listen.ApplicationServices.GetRequiredService<SlowReaderCut>().OnConnection));
            var limits = kestrel.Limits;
            // A client gets 10 s (not 30 s) to send its headers: slow-header clients hold no slot for long.
            limits.RequestHeadersTimeout = TimeSpan.FromSeconds(10);
            // Longer than the 60 s idle timeout of common outer balancers, so they close idle connections first (nginx: 75 s).
            limits.KeepAliveTimeout = TimeSpan.FromSeconds(75);
            limits.MaxRequestLineSize = 8 * 1024;
            limits.MaxRequestHeadersTotalSize = 32 * 1024;
            limits.MaxRequestHeaderCount = 100;
            // Image edges take small uploads at most; 30 MB is ASP.NET Core's default, 10 MB is plenty.
            limits.MaxRequestBodySize = 10 * 1024 * 1024;
            // HTTP/2 to clients, set here rather than left to Kestrel's defaults so that the edge's limits are in one place.
            var http2 = limits.Http2;
            // A browser page of images multiplexes dozens of requests; 100 streams is what nginx and most CDNs allow.
            http2.MaxStreamsPerConnection = 100;
            // HPACK: 4 KiB dynamic table (the RFC's default) and 16 KiB per header field; the whole header list stays
            // under MaxRequestHeadersTotalSize above, which also bounds a CONTINUATION flood.
            http2.HeaderTableSize = 4 * 1024;
            http2.MaxRequestHeaderFieldSize = 16 * 1024;
            http2.MaxFrameSize = 16 * 1024;
            // Flow control: 1 MiB per connection, 768 KiB per stream, so uploads stay small and a client that opens
            // streams without reading holds at most these windows of response bytes in the server.
            http2.InitialConnectionWindowSize = 1024 * 1024;
            http2.InitialStreamWindowSize = 768 * 1024;
            // A ping after 30 s of silence, the connection closed when it goes unanswered for 20 s: dead clients go.
            http2.KeepAlivePingDelay = TimeSpan.FromSeconds(30);
            http2.KeepAlivePingTimeout = TimeSpan.FromSeconds(20);
            // Slow readers: a client must read response bytes at 240 B/s after a 5 s grace, or the connection is closed.
            limits.MinResponseDataRate = new MinDataRate(bytesPerSecond: 240, gracePeriod: TimeSpan.FromSeconds(5));
            // Client connections bounded by the file-descriptor limit (FileDescriptorLimit): past the cap Kestrel closes a
            // new connection at once and counts it (kestrel.rejected_connections), where an unbounded accept ran the
            // process out of descriptors and the runtime aborted. Upgraded (WebSocket) connections are counted apart.
            limits.MaxConcurrentConnections = FileDescriptorLimit.ClientConnections;
            limits.MaxConcurrentUpgradedConnections = FileDescriptorLimit.UpgradedClientConnections;
            builder.Configuration.GetSection("Kestrel:Limits").Bind(limits);
        });
        // Upstream connections bounded by the same limit, where the config leaves them at 0: half of the connection share.
        builder.Services.PostConfigure<ForwardingOptions>(static forwarding =>
        {
            if (forwarding.MaxConnections == 0)
            {
                forwarding.MaxConnections = FileDescriptorLimit.UpstreamConnections;
            }

            if (forwarding.MaxConnectionsPerDestination == 0)
            {
                forwarding.MaxConnectionsPerDestination = forwarding.MaxConnections;
            }
        });
        return builder;
    }
}
