using LbProxy.AccessLog;
using LbProxy.Configuration;
using LbProxy.Diagnostics;
using LbProxy.Tls;
using Yarp.ReverseProxy;

namespace LbProxy.Control;

/// <summary>The answer of <c>/_lb/status</c>.</summary>
internal sealed record StatusReport(
    string Version,
    DateTimeOffset StartedAt,
    double UptimeSeconds,
    bool Ready,
    bool Draining,
    ConfigStatus Config,
    IReadOnlyList<ClusterStatus> Clusters,
    AccessLogStatus AccessLog,
    IReadOnlyList<CertificateDescription> Certificates,
    WatchdogStatus Watchdog)
{
    public static StatusReport Capture(
        string version,
        ProcessUptime uptime,
        Readiness readiness,
        ConfigState config,
        IProxyStateLookup proxyState,
        AccessLogReport accessLog,
        TlsCertificateStage tls,
        LivePage page)
    {
        var clusters = new List<ClusterStatus>();
        foreach (var cluster in proxyState.GetClusters().OrderBy(static c => c.ClusterId, StringComparer.Ordinal))
        {
            var available = cluster.DestinationsState?.AvailableDestinations;
            var destinations = new List<DestinationStatus>();
            var inFlight = 0;
            foreach (var (id, destination) in cluster.Destinations.OrderBy(static d => d.Key, StringComparer.Ordinal))
            {
                destinations.Add(new DestinationStatus(
                    id,
                    destination.Model?.Config.Address ?? "",
                    available?.Contains(destination) ?? false,
                    destination.Health.Active.ToString(),
                    destination.Health.Passive.ToString(),
                    destination.ConcurrentRequestCount,
                    page.RequestsOf(destination)));
                inFlight += destination.ConcurrentRequestCount;
            }

            clusters.Add(new ClusterStatus(cluster.ClusterId, inFlight, destinations));
        }

        return new StatusReport(
            version,
            uptime.StartedAt,
            uptime.Elapsed.TotalSeconds,
            readiness.IsReady,
            readiness.IsDraining,
            config.Current,
            clusters,
            accessLog.Capture(),
            [.. tls.Served.Select(static s => s.Description).OrderBy(static d => d.Endpoint, StringComparer.Ordinal).ThenBy(static d => d.Sni, StringComparer.Ordinal)],
            page.Watchdog);
    }
}

/// <summary>One cluster in <c>/_lb/status</c>: its destinations and the requests in flight to it.</summary>
internal sealed record ClusterStatus(string Id, int InFlight, IReadOnlyList<DestinationStatus> Destinations);

/// <summary>
/// One destination in <c>/_lb/status</c>: address, health as the active and passive checks see it, requests in
/// flight, and proxied requests it completed since start.
/// </summary>
internal sealed record DestinationStatus(string Id, string Address, bool Available, string ActiveHealth, string PassiveHealth, int InFlight, long Requests);
