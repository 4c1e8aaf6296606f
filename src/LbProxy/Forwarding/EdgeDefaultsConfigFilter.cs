using Microsoft.Extensions.Options;
using Yarp.ReverseProxy.Configuration;
using Yarp.ReverseProxy.Forwarder;

namespace LbProxy.Forwarding;

/// <summary>
/// Edge defaults for what a cluster leaves unset: the activity timeout of <see cref="ForwardingOptions"/>, and
/// <c>HealthyAndUnknown</c> as the available-destinations policy. YARP's default, <c>HealthyOrPanic</c>, sends
/// traffic to destinations known to be down once none is healthy; an edge answers 503 at once instead.
/// </summary>
internal sealed class EdgeDefaultsConfigFilter(IOptionsMonitor<ForwardingOptions> options) : IProxyConfigFilter
{
    public const string HealthyAndUnknown = "HealthyAndUnknown";

    /// <summary>
    /// Cluster metadata that carries the connection settings a cluster's client was built with. YARP rebuilds a
    /// cluster's client only when its config changes, so a change of <see cref="ForwardingOptions"/> must show
    /// in every cluster's config to reach clients already built.
    /// </summary>
    public const string ConnectionSettingsKey = "LbProxy.Forwarding.ConnectionSettings";

    public ValueTask<ClusterConfig> ConfigureClusterAsync(ClusterConfig cluster, CancellationToken cancel)
    {
        var request = cluster.HttpRequest ?? ForwarderRequestConfig.Empty;
        if (request.ActivityTimeout is null)
        {
            cluster = cluster with { HttpRequest = request with { ActivityTimeout = options.CurrentValue.ActivityTimeout } };
        }

        var metadata = new Dictionary<string, string>(cluster.Metadata ?? new Dictionary<string, string>(), StringComparer.OrdinalIgnoreCase)
        {
            [ConnectionSettingsKey] = ConnectionSettings(options.CurrentValue),
        };
        cluster = cluster with { Metadata = metadata };

        if (cluster.HealthCheck is { AvailableDestinationsPolicy: null } healthCheck)
        {
            cluster = cluster with { HealthCheck = healthCheck with { AvailableDestinationsPolicy = HealthyAndUnknown } };
        }

        return ValueTask.FromResult(cluster);
    }

    internal static string ConnectionSettings(ForwardingOptions edge) =>
        FormattableString.Invariant($"{edge.ConnectTimeout}|{edge.PooledConnectionIdleTimeout}|{edge.PooledConnectionLifetime}");

    public ValueTask<RouteConfig> ConfigureRouteAsync(RouteConfig route, ClusterConfig? cluster, CancellationToken cancel) =>
        ValueTask.FromResult(route);
}
