using Microsoft.Extensions.Options;
using Yarp.ReverseProxy.Configuration;
using Yarp.ReverseProxy.Forwarder;

namespace LbProxy.Forwarding;

/// <summary>Gives every cluster that does not set its own <c>HttpRequest.ActivityTimeout</c> the edge default.</summary>
internal sealed class EdgeDefaultsConfigFilter(IOptions<ForwardingOptions> options) : IProxyConfigFilter
{
    public ValueTask<ClusterConfig> ConfigureClusterAsync(ClusterConfig cluster, CancellationToken cancel)
    {
        var request = cluster.HttpRequest ?? ForwarderRequestConfig.Empty;
        if (request.ActivityTimeout is null)
        {
            cluster = cluster with { HttpRequest = request with { ActivityTimeout = options.Value.ActivityTimeout } };
        }

        return ValueTask.FromResult(cluster);
    }

    public ValueTask<RouteConfig> ConfigureRouteAsync(RouteConfig route, ClusterConfig? cluster, CancellationToken cancel) =>
        ValueTask.FromResult(route);
}
