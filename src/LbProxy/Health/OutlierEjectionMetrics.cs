using System.Diagnostics;
using System.Diagnostics.Metrics;
using LbProxy.Metrics;

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

    private readonly ConfiguredCounter<EjectionSeries> _ejections;

    public OutlierEjectionMetrics(IMeterFactory meterFactory)
    {
        _ejections = new ConfiguredCounter<EjectionSeries>(
            meterFactory.Create(LbProxyMeter.Name),
            EjectionsName,
            unit: "{ejection}",
            description: "Outlier ejections by cluster, destination and outcome: ejected, or capped by MaxEjectedPercent.");
    }

    /// <summary>
    /// Both series of every destination of a cluster that asks for outlier ejection, started at 0; those of
    /// removed destinations dropped.
    /// </summary>
    public void Configure(ConfiguredIds ids)
    {
        _ejections.Configure(ids);
        foreach (var cluster in ids.Clusters)
        {
            if (OutlierEjectionSettings.Parse(cluster.Metadata).Settings is null || cluster.Destinations is null)
            {
                continue;
            }

            foreach (var destination in cluster.Destinations.Keys)
            {
                _ejections.Start(new EjectionSeries(cluster.ClusterId, destination, Ejected));
                _ejections.Start(new EjectionSeries(cluster.ClusterId, destination, Capped));
            }
        }
    }

    public void Record(string cluster, string destination, string outcome)
    {
        if (_ejections.Enabled)
        {
            _ejections.Add(new EjectionSeries(cluster, destination, outcome));
        }
    }
}

/// <summary>One series of <c>lbproxy_outlier_ejections_total</c>.</summary>
internal readonly record struct EjectionSeries(string Cluster, string Destination, string Outcome) : IConfiguredSeriesKey
{
    public bool IsConfiguredIn(ConfiguredIds ids) => ids.HasDestination(Cluster, Destination);

    public TagList Tags() => new()
    {
        { MetricTags.Cluster, Cluster },
        { MetricTags.Destination, Destination },
        { MetricTags.Outcome, Outcome },
    };
}
