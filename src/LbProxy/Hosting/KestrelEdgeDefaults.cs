using LbProxy.Edge;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace LbProxy.Hosting;

/// <summary>
/// Client-side limits for an edge. Values under <c>Kestrel:Limits</c> in the config still win.
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
            kestrel.ConfigureEndpointDefaults(static listen => listen.Use(ConnectionHeaderCapture.OnConnection));
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
            builder.Configuration.GetSection("Kestrel:Limits").Bind(limits);
        });
        return builder;
    }
}
