using Microsoft.Extensions.Options;
using Yarp.ReverseProxy.Configuration;
using Yarp.ReverseProxy.Forwarder;

namespace LbProxy.Forwarding;

/// <summary>
/// Edge defaults for what a cluster leaves unset: the activity timeout of <see cref="ForwardingOptions"/>,
/// passive health on, and <c>HealthyAndUnknown</c> as the available-destinations policy. YARP's
/// <c>HealthyOrPanic</c> sends traffic to destinations known to be down once none is healthy; an edge answers
/// 503 at once instead.
/// </summary>
internal sealed class EdgeDefaultsConfigFilter(IOptionsMonitor<ForwardingOptions> options) : IProxyConfigFilter
{
    public const string HealthyAndUnknown = "HealthyAndUnknown";
    public const string TransportFailureRate = "TransportFailureRate";

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

        // Passive health (transport failures) is on unless a cluster says otherwise: it is what lets a dead
        // origin drop out between active probes, and outlier ejection marks destinations through it.
        var health = cluster.HealthCheck ?? new HealthCheckConfig();
        health = health with
        {
            AvailableDestinationsPolicy = health.AvailableDestinationsPolicy ?? HealthyAndUnknown,
            Passive = health.Passive ?? new PassiveHealthCheckConfig { Enabled = true, Policy = TransportFailureRate },
        };
        cluster = cluster with { HealthCheck = health };

        return ValueTask.FromResult(cluster);
    }

    internal static string ConnectionSettings(ForwardingOptions edge) =>
        FormattableString.Invariant($"{edge.ConnectTimeout}|{edge.PooledConnectionIdleTimeout}|{edge.PooledConnectionLifetime}|{edge.MaxConnectionsPerDestination}");

    public ValueTask<RouteConfig> ConfigureRouteAsync(RouteConfig route, ClusterConfig? cluster, CancellationToken cancel) =>
        ValueTask.FromResult(route);
}
