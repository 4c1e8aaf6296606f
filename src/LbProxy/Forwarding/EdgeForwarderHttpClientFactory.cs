using System.Text;
using Microsoft.Extensions.Options;
using Yarp.ReverseProxy.Forwarder;

namespace LbProxy.Forwarding;

/// <summary>YARP's client factory with the edge timeouts of <see cref="ForwardingOptions"/>.</summary>
internal sealed class EdgeForwarderHttpClientFactory(
    IOptionsMonitor<ForwardingOptions> options,
    UpstreamConnections upstream,
    ILogger<ForwarderHttpClientFactory> logger) : ForwarderHttpClientFactory(logger)
{
    /// <summary>A client is reused only if it was built with the connection settings in force now.</summary>
    protected override bool CanReuseOldClient(ForwarderHttpClientContext context) =>
        base.CanReuseOldClient(context)
        && string.Equals(SettingsOf(context.OldMetadata), SettingsOf(context.NewMetadata), StringComparison.Ordinal);

    private static string? SettingsOf(IReadOnlyDictionary<string, string>? metadata) =>
        metadata?.GetValueOrDefault(EdgeDefaultsConfigFilter.ConnectionSettingsKey);

    protected override void ConfigureHandler(ForwarderHttpClientContext context, SocketsHttpHandler handler)
    {
        base.ConfigureHandler(context, handler);
        var edge = options.CurrentValue;
        handler.ConnectTimeout = edge.ConnectTimeout;
        handler.PooledConnectionIdleTimeout = edge.PooledConnectionIdleTimeout;
        handler.PooledConnectionLifetime = edge.PooledConnectionLifetime;
        // Sockets to one destination, bounded (the total is UpstreamConnections'): each HTTP/2 stream of a client would
        // otherwise open its own upstream connection. A cluster's own HttpClient:MaxConnectionsPerServer still wins.
        if (edge.MaxConnectionsPerDestination > 0 && context.NewConfig.MaxConnectionsPerServer is null)
        {
            handler.MaxConnectionsPerServer = edge.MaxConnectionsPerDestination;
        }
        // Kestrel decodes request header values as Latin-1 (Edge/RequestHeaderDecoding): encode them the same way, so a
        // byte 0x80-0xFF goes upstream unchanged instead of failing the forward (HttpClient refuses non-ASCII: a 502).
        // A cluster's own HttpClient:RequestHeaderEncoding still wins.
        handler.RequestHeaderEncodingSelector ??= static (_, _) => Encoding.Latin1;
        // And an origin's response header with such a byte (a Latin-1 file name in Content-Disposition) is read as
        // Latin-1 too, which Kestrel writes back byte for byte (KestrelEdgeDefaults); HttpClient refuses it: a 502.
        handler.ResponseHeaderEncodingSelector ??= static (_, _) => Encoding.Latin1;
        handler.ConnectCallback = upstream.ConnectAsync; // counts connections; a per-cluster callback must chain through it
    }
}
