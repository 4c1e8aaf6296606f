using System.Diagnostics;
using System.Diagnostics.Metrics;
using LbProxy.Metrics;
using Yarp.ReverseProxy;

namespace LbProxy.Admission;

/// <summary>
/// What is in flight and queued now, read from the gates at scrape time and for <c>/_lb/status</c>: per destination
/// the requests holding a slot (<c>lbproxy_admission_in_flight</c>) and the current limit, fixed or adaptive
/// (<c>lbproxy_admission_limit</c>); per cluster the queue length (<c>lbproxy_admission_queue_length</c>) and the
/// time waited in the queue (<c>lbproxy_admission_queue_wait_seconds</c>). Gauges follow YARP's clusters, so a
/// removed cluster's series leave with it. Made when the proxy pipeline is built (the middleware needs it).
/// </summary>
internal sealed class AdmissionState
{
    public const string InFlightName = "lbproxy.admission.in_flight";
    public const string LimitName = "lbproxy.admission.limit";
    public const string QueueLengthName = "lbproxy.admission.queue_length";
    public const string QueueWaitName = "lbproxy.admission.queue_wait";

    // From 1 ms to the longest QueueTimeout worth having: the queue's p99 is read against QueueTimeout.
    private static readonly double[] WaitBuckets = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

    private readonly IProxyStateLookup _proxyState;
    private readonly AdmissionGates _gates;
    private readonly Histogram<double> _wait;

    public AdmissionState(IMeterFactory meterFactory, IProxyStateLookup proxyState, AdmissionGates gates)
    {
        _proxyState = proxyState;
        _gates = gates;
        var meter = meterFactory.Create(LbProxyMeter.Name);
        meter.CreateObservableGauge(InFlightName, ObserveInFlight, unit: "{request}",
            description: "Requests holding a concurrency slot of a destination, by cluster and destination (clusters with Concurrency.MaxPerDestination).");
        meter.CreateObservableGauge(LimitName, ObserveLimit, unit: "{request}",
            description: "The concurrency limit of a destination now: MaxPerDestination, or the adaptive limit under it.");
        meter.CreateObservableGauge(QueueLengthName, ObserveQueueLength, unit: "{request}",
            description: "Requests of a cluster waiting for a concurrency slot.");
        _wait = meter.CreateHistogram(QueueWaitName, unit: "s",
            description: "Time requests of a cluster waited in its queue, admitted or shed.",
            tags: null,
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = WaitBuckets });
    }

    /// <summary>The <c>admission</c> section of <c>/_lb/status</c>.</summary>
    public IReadOnlyList<AdmissionClusterStatus> Status() => AdmissionClusterStatus.Capture(_proxyState, _gates);

    public void Waited(string cluster, TimeSpan wait)
    {
        if (_wait.Enabled)
        {
            _wait.Record(wait.TotalSeconds, new KeyValuePair<string, object?>(MetricTags.Cluster, cluster));
        }
    }

    private List<Measurement<int>> ObserveInFlight() => ObserveDestinations(static (slots, _) => slots?.InFlight ?? 0);

    private List<Measurement<int>> ObserveLimit() =>
        ObserveDestinations(static (slots, settings) => slots?.LimitFor(settings) ?? settings.MaxPerDestination);

    private List<Measurement<int>> ObserveDestinations(Func<DestinationSlots?, AdmissionSettings, int> read)
    {
        var measurements = new List<Measurement<int>>();
        foreach (var cluster in _proxyState.GetClusters())
        {
            if (cluster.Model is not { } model || AdmissionSettings.Of(model) is not { } settings)
            {
                continue;
            }

            foreach (var destination in cluster.Destinations.Values)
            {
                measurements.Add(new Measurement<int>(read(AdmissionGate.PeekSlots(destination), settings),
                    new TagList { { MetricTags.Cluster, cluster.ClusterId }, { MetricTags.Destination, destination.DestinationId } }));
            }
        }

        return measurements;
    }

    private List<Measurement<int>> ObserveQueueLength()
    {
        var measurements = new List<Measurement<int>>();
        foreach (var cluster in _proxyState.GetClusters())
        {
            if (cluster.Model is { } model && AdmissionSettings.Of(model) is not null)
            {
                measurements.Add(new Measurement<int>(_gates.Peek(cluster)?.QueueLength ?? 0,
                    new KeyValuePair<string, object?>(MetricTags.Cluster, cluster.ClusterId)));
            }
        }

        return measurements;
    }
}
