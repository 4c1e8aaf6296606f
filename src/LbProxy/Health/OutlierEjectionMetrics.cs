using System.Diagnostics;
using System.Diagnostics.Metrics;
using LbProxy.Metrics;
using Yarp.ReverseProxy.Configuration;

namespace LbProxy.Health;

/// <summary>
/// <c>lbproxy_outlier_ejections_total{cluster,destination,outcome}</c>: every ejection decision, <c>ejected</c> or
/// <c>capped</c> (not ejected because too much of the cluster already was). Without it an ejection shows only as a
/// destination going unhealthy, indistinguishable from a failed probe.
/// </summary>
internal sealed class OutlierEjectionMetrics : IClusterSeries
{
    public const string EjectionsName = "lbproxy.outlier.ejections";

    /// <summary>The destination was ejected for the cluster's ejection duration.</summary>
    public const string Ejected = "ejected";

    /// <summary>The destination reached the threshold but was not ejected: the cluster's cap was reached.</summary>
    public const string Capped = "capped";

    private readonly Counter<long> _ejections;

    public OutlierEjectionMetrics(IMeterFactory meterFactory)
    {
        _ejections = meterFactory.Create(LbProxyMeter.Name).CreateCounter<long>(
            EjectionsName,
            unit: "{ejection}",
            description: "Outlier ejections by cluster, destination and outcome: ejected, or capped by MaxEjectedPercent.");
    }

    /// <summary>Both series of every destination of a cluster that asks for outlier ejection, started at 0.</summary>
    public void ClusterConfigured(ClusterConfig cluster)
    {
        if (OutlierEjectionSettings.Parse(cluster.Metadata).Settings is null || cluster.Destinations is null)
        {
            return;
        }

        foreach (var destination in cluster.Destinations.Keys)
        {
            Record(cluster.ClusterId, destination, Ejected, 0);
            Record(cluster.ClusterId, destination, Capped, 0);
        }
    }

    public void Record(string cluster, string destination, string outcome, long count = 1)
    {
        if (_ejections.Enabled)
        {
            var tags = new TagList
            {
                { MetricTags.Cluster, cluster },
                { MetricTags.Destination, destination },
                { MetricTags.Outcome, outcome },
            };
            _ejections.Add(count, tags);
        }
    }
}
