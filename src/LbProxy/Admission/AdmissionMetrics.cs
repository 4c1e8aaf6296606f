using System.Diagnostics;
using System.Diagnostics.Metrics;
using LbProxy.Metrics;

namespace LbProxy.Admission;

/// <summary>
/// Origin protection's counters on <c>/metrics</c>: shed requests by reason and degraded image requests by class,
/// whose series start at 0 for every cluster with limits. The shed counter's series of a removed cluster stay until
/// the process ends (a synchronous counter, shared with rate limiting); the degraded ones leave with the cluster. Depends on nothing but the meter: it is handed every
/// applied config (<see cref="IClusterSeries"/>), so it must not depend on YARP's state, which depends on that.
/// The gauges and the queue-wait histogram are <see cref="AdmissionState"/>'s.
/// </summary>
internal sealed class AdmissionMetrics : IClusterSeries
{
    /// <summary>
    /// <c>lbproxy_shed_requests_total{cluster,reason}</c>. Shared: the rate-limiting stage creates a counter of this
    /// same name on the same meter for its <c>rate_limited</c> reason, and OpenTelemetry merges the two.
    /// </summary>
    public const string ShedName = "lbproxy.shed.requests";

    public const string DegradedName = "lbproxy.image.degraded";

    private static readonly string[] Reasons = [ShedReasons.QueueFull, ShedReasons.QueueTimeout, ShedReasons.ClientGone];
    private static readonly (string From, string To)[] Degrades = [("avif", "webp"), ("avif", "original"), ("webp", "original")];

    // A plain counter, not a ConfiguredCounter: the rate-limiting stage creates one of the same name, unit and
    // description on the same meter, and OpenTelemetry merges only identical instruments (an observable counter
    // beside a synchronous one of the same name would be exported as two families of one name).
    private readonly Counter<long> _shed;
    private readonly ConfiguredCounter<DegradedSeries> _degraded;

    public AdmissionMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(LbProxyMeter.Name);
        _shed = meter.CreateCounter<long>(ShedName, unit: "{request}",
            description: "Requests refused to protect origins, by cluster and reason: queue_full, queue_timeout, client_gone, rate_limited.");
        _degraded = new ConfiguredCounter<DegradedSeries>(meter, DegradedName, unit: "{request}",
            description: "Image requests sent upstream one format class cheaper because the cluster was at its limit, by cluster and classes.");
    }

    public void Configure(ConfiguredIds ids)
    {
        _degraded.Configure(ids);
        foreach (var cluster in ids.Clusters)
        {
            if (AdmissionSettings.Parse(cluster.Metadata).Settings is not { } settings)
            {
                continue;
            }

            foreach (var reason in Reasons)
            {
                // Adding 0 makes the series exist at 0 before the first shed request, so increase() sees the first one.
                _shed.Add(0, new KeyValuePair<string, object?>(MetricTags.Cluster, cluster.ClusterId), new KeyValuePair<string, object?>(MetricTags.Reason, reason));
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
            _shed.Add(1, new KeyValuePair<string, object?>(MetricTags.Cluster, cluster), new KeyValuePair<string, object?>(MetricTags.Reason, reason));
        }
    }

    public void Degraded(string cluster, string from, string to)
    {
        if (_degraded.Enabled)
        {
            _degraded.Add(new DegradedSeries(cluster, from, to));
        }
    }
}

/// <summary>One series of <c>lbproxy_image_degraded_total</c>.</summary>
internal readonly record struct DegradedSeries(string Cluster, string From, string To) : IConfiguredSeriesKey
{
    public bool IsConfiguredIn(ConfiguredIds ids) => ids.HasCluster(Cluster);

    public TagList Tags() => new() { { MetricTags.Cluster, Cluster }, { "from", From }, { "to", To } };
}
