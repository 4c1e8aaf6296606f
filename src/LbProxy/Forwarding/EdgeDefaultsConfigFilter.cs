using Microsoft.Extensions.Options;
using Yarp.ReverseProxy.Configuration;
using Yarp.ReverseProxy.Forwarder;

namespace LbProxy.Forwarding;

/// <summary>
/// Edge defaults for what a cluster leaves unset: the activity timeout of <see cref="ForwardingOptions"/>, and
/// <c>HealthyAndUnknown</c> as the available-destinations policy. YARP's default, <c>HealthyOrPanic</c>, sends
/// traffic to destinations known to be down once none is healthy; an edge answers 503 at once instead.
/// </summary>
internal sealed class EdgeDefaultsConfigFilter(IOptions<ForwardingOptions> options) : IProxyConfigFilter
{
    public const string HealthyAndUnknown = "HealthyAndUnknown";

    public ValueTask<ClusterConfig> ConfigureClusterAsync(ClusterConfig cluster, CancellationToken cancel)
    {
        var request = cluster.HttpRequest ?? ForwarderRequestConfig.Empty;
        if (request.ActivityTimeout is null)
        {
            cluster = cluster with { HttpRequest = request with { ActivityTimeout = options.Value.ActivityTimeout } };
        }

        if (cluster.HealthCheck is { AvailableDestinationsPolicy: null } healthCheck)
        {
            cluster = cluster with { HealthCheck = healthCheck with { AvailableDestinationsPolicy = HealthyAndUnknown } };
        }

        return ValueTask.FromResult(cluster);
    }

    public ValueTask<RouteConfig> ConfigureRouteAsync(RouteConfig route, ClusterConfig? cluster, CancellationToken cancel) =>
        ValueTask.FromResult(route);
}
