using System.Diagnostics;
using System.Diagnostics.Metrics;
using Yarp.ReverseProxy;
using Yarp.ReverseProxy.Model;

namespace LbProxy.Metrics;

/// <summary>
/// What YARP already knows about each destination, read at scrape time rather than counted again per request:
/// its in-flight requests (YARP's own concurrency counter, which the LeastRequests and PowerOfTwoChoices
/// policies balance on) and whether it is fit for traffic by YARP's active and passive health state.
/// Costs nothing per request; a scrape walks the clusters once per instrument.
/// </summary>
internal sealed class DestinationMetrics
{
    public const string ActiveRequestsName = "lbproxy.proxy.active_requests";
    public const string HealthyName = "lbproxy.destination.healthy";

    private readonly IProxyStateLookup _proxyState;

    public DestinationMetrics(IMeterFactory meterFactory, IProxyStateLookup proxyState)
    {
        _proxyState = proxyState;
        var meter = meterFactory.Create(LbProxyMeter.Name);
        meter.CreateObservableUpDownCounter(
            ActiveRequestsName,
            ObserveActiveRequests,
            unit: "{request}",
            description: "Requests being forwarded to a destination right now, by cluster and destination. Back to 0 when idle.");
        meter.CreateObservableGauge(
            HealthyName,
            ObserveHealthy,
            unit: null,
            description: "1 when the destination may take traffic (neither active nor passive health checks mark it unhealthy), 0 when not.");
    }

    private List<Measurement<long>> ObserveActiveRequests()
    {
        var measurements = new List<Measurement<long>>();
        foreach (var cluster in _proxyState.GetClusters())
        {
            foreach (var destination in cluster.Destinations.Values)
            {
                measurements.Add(new Measurement<long>(destination.ConcurrentRequestCount, Tags(cluster.ClusterId, destination.DestinationId)));
            }
        }

        return measurements;
    }

    private List<Measurement<int>> ObserveHealthy()
    {
        var measurements = new List<Measurement<int>>();
        foreach (var cluster in _proxyState.GetClusters())
        {
            foreach (var destination in cluster.Destinations.Values)
            {
                // Unknown counts as healthy, as YARP routes to it: a destination not yet probed, or whose passive
                // state was reset after its reactivation period, takes traffic.
                var healthy = destination.Health.Active is not DestinationHealth.Unhealthy
                    && destination.Health.Passive is not DestinationHealth.Unhealthy;
                measurements.Add(new Measurement<int>(healthy ? 1 : 0, Tags(cluster.ClusterId, destination.DestinationId)));
            }
        }

        return measurements;
    }

    private static TagList Tags(string clusterId, string destinationId) => new()
    {
        { MetricTags.Cluster, clusterId },
        { MetricTags.Destination, destinationId },
    };
}
