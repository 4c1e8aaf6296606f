using System.Diagnostics;
using System.Diagnostics.Metrics;
using LbProxy.Metrics;
using Yarp.ReverseProxy;

namespace LbProxy.Admission;

/// <summary>
/// Origin protection on <c>/metrics</c>: per destination the requests holding a slot and the current limit (fixed
/// or adaptive), per cluster the queue length (gauges read at scrape time from the gates, so a removed cluster's
/// series leave with it) and the time waited in the queue (a histogram); shed requests by reason and degraded
/// image requests by class (counters whose series start at 0 for every cluster with limits).
/// </summary>
internal sealed class AdmissionMetrics : IClusterSeries
{
    public const string InFlightName = "lbproxy.admission.in_flight";
    public const string LimitName = "lbproxy.admission.limit";
    public const string QueueLengthName = "lbproxy.admission.queue_length";
    public const string QueueWaitName = "lbproxy.admission.queue_wait";

    /// <summary>
    /// <c>lbproxy_shed_requests_total{cluster,reason}</c>. Shared: the rate-limiting stage creates a counter of this
    /// same name on the same meter for its <c>rate_limited</c> reason, and OpenTelemetry merges the two.
    /// </summary>
    public const string ShedName = "lbproxy.shed.requests";

    public const string DegradedName = "lbproxy.image.degraded";

    // From 1 ms to the longest QueueTimeout worth having: the queue's p99 is read against QueueTimeout.
    private static readonly double[] WaitBuckets = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

    private static readonly string[] Reasons = [ShedReasons.QueueFull, ShedReasons.QueueTimeout, ShedReasons.ClientGone];
    private static readonly (string From, string To)[] Degrades = [("avif", "webp"), ("avif", "original"), ("webp", "original")];

    private readonly IProxyStateLookup _proxyState;
    private readonly AdmissionGates _gates;
    private readonly ConfiguredCounter<ShedSeries> _shed;
    private readonly ConfiguredCounter<DegradedSeries> _degraded;
    private readonly Histogram<double> _wait;

    public AdmissionMetrics(IMeterFactory meterFactory, IProxyStateLookup proxyState, AdmissionGates gates)
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
        _shed = new ConfiguredCounter<ShedSeries>(meter, ShedName, unit: "{request}",
            description: "Requests answered without forwarding to protect the origins, by cluster and reason: queue_full, queue_timeout, client_gone, rate_limited.");
        _degraded = new ConfiguredCounter<DegradedSeries>(meter, DegradedName, unit: "{request}",
            description: "Image requests sent upstream one format class cheaper because the cluster was at its limit, by cluster and classes.");
    }

    public void Configure(ConfiguredIds ids)
    {
        _shed.Configure(ids);
        _degraded.Configure(ids);
        foreach (var cluster in ids.Clusters)
        {
            if (AdmissionSettings.Parse(cluster.Metadata).Settings is not { } settings)
            {
                continue;
            }

            foreach (var reason in Reasons)
            {
                _shed.Start(new ShedSeries(cluster.ClusterId, reason));
            }

            if (settings.DegradeFormats)
            {
                foreach (var (from, to) in Degrades)
                {
                    _degraded.Start(new DegradedSeries(cluster.ClusterId, from, to));
                }
            }
        }
    }

    public void Shed(string cluster, string reason)
    {
        if (_shed.Enabled)
        {
            _shed.Add(new ShedSeries(cluster, reason));
        }
    }

    public void Degraded(string cluster, string from, string to)
    {
        if (_degraded.Enabled)
        {
            _degraded.Add(new DegradedSeries(cluster, from, to));
        }
    }

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

/// <summary>One series of <c>lbproxy_shed_requests_total</c>.</summary>
internal readonly record struct ShedSeries(string Cluster, string Reason) : IConfiguredSeriesKey
{
    public bool IsConfiguredIn(ConfiguredIds ids) => ids.HasCluster(Cluster);

    public TagList Tags() => new() { { MetricTags.Cluster, Cluster }, { MetricTags.Reason, Reason } };
}

/// <summary>One series of <c>lbproxy_image_degraded_total</c>.</summary>
internal readonly record struct DegradedSeries(string Cluster, string From, string To) : IConfiguredSeriesKey
{
    public bool IsConfiguredIn(ConfiguredIds ids) => ids.HasCluster(Cluster);

    public TagList Tags() => new() { { MetricTags.Cluster, Cluster }, { "from", From }, { "to", To } };
}
