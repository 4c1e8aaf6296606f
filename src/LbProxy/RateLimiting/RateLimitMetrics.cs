using System.Diagnostics.Metrics;
using LbProxy.Metrics;

namespace LbProxy.RateLimiting;

/// <summary>
/// <c>lbproxy_shed_requests_total{cluster,reason="rate_limited"}</c> and <c>lbproxy_ratelimit_partitions{policy}</c>.
/// The counter is the one Admission declares for every shed request (same name, unit and description on the same
/// meter: OpenTelemetry merges identical instruments into one series set); this stage adds its reason.
/// </summary>
internal sealed class RateLimitMetrics
{
    public const string ShedName = "lbproxy.shed.requests";
    public const string PartitionsName = "lbproxy.ratelimit.partitions";
    public const string RateLimited = "rate_limited";
    public const string PolicyTag = "policy";

    private readonly Counter<long> _shed;

    public RateLimitMetrics(IMeterFactory meterFactory, RateLimitPolicies policies)
    {
        var meter = meterFactory.Create(LbProxyMeter.Name);
        _shed = meter.CreateCounter<long>(
            ShedName,
            unit: "{request}",
            description: "Requests refused to protect origins, by cluster and reason: queue_full, queue_timeout, client_gone, rate_limited.");
        meter.CreateObservableGauge(
            PartitionsName,
            () => Observe(policies),
            unit: "{partition}",
            description: "Live partitions of each rate limit policy: own ones plus shared ones in use, at most the policy's MaxPartitions.");
    }

    public void RecordLimited(string cluster)
    {
        if (_shed.Enabled)
        {
            _shed.Add(1, new KeyValuePair<string, object?>(MetricTags.Cluster, cluster), new KeyValuePair<string, object?>(MetricTags.Reason, RateLimited));
        }
    }

    private static List<Measurement<int>> Observe(RateLimitPolicies policies)
    {
        var measurements = new List<Measurement<int>>();
        foreach (var policy in policies.Current.Values)
        {
            measurements.Add(new Measurement<int>(policy.Partitions.Count, new KeyValuePair<string, object?>(PolicyTag, policy.Name)));
        }

        return measurements;
    }
}
