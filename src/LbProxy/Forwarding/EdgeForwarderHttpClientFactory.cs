using Microsoft.Extensions.Options;
using Yarp.ReverseProxy.Forwarder;

namespace LbProxy.Forwarding;

/// <summary>YARP's client factory with the edge timeouts of <see cref="ForwardingOptions"/>.</summary>
internal sealed class EdgeForwarderHttpClientFactory(
    IOptions<ForwardingOptions> options,
    ILogger<ForwarderHttpClientFactory> logger) : ForwarderHttpClientFactory(logger)
{
    protected override void ConfigureHandler(ForwarderHttpClientContext context, SocketsHttpHandler handler)
    {
        base.ConfigureHandler(context, handler);
        var edge = options.Value;
        handler.ConnectTimeout = edge.ConnectTimeout;
        handler.PooledConnectionIdleTimeout = edge.PooledConnectionIdleTimeout;
        handler.PooledConnectionLifetime = edge.PooledConnectionLifetime;
    }
}
