using System.Diagnostics;
using System.Diagnostics.Metrics;
using LbProxy.Metrics;

namespace LbProxy.LoadBalancing;

/// <summary><c>lbproxy_proxy_retries_total{cluster,outcome}</c>: every retry decision, by what came of it.</summary>
internal sealed class RetryMetrics : IClusterSeries
{
    public const string RetriesName = "lbproxy.proxy.retries";

    /// <summary>A retry was sent and its response reached the client.</summary>
    public const string Succeeded = "succeeded";

    /// <summary>Retries were sent and the last one failed too.</summary>
    public const string Failed = "failed";

    /// <summary>A retry was wanted but the cluster's budget was spent.</summary>
    public const string BudgetExhausted = "budget_exhausted";

    /// <summary>A retry was wanted but no other destination was left.</summary>
    public const string NoDestination = "no_destination";

    private readonly ConfiguredCounter<RetrySeries> _retries;

    public RetryMetrics(IMeterFactory meterFactory)
    {
        _retries = new ConfiguredCounter<RetrySeries>(
            meterFactory.Create(LbProxyMeter.Name),
            RetriesName,
            unit: "{retry}",
            description: "Retries of failed forwards, by cluster and outcome: succeeded, failed, budget_exhausted, no_destination.");
    }

    private static readonly string[] Outcomes = [Succeeded, Failed, BudgetExhausted, NoDestination];

    /// <summary>Four series per configured cluster, started at 0; those of removed clusters dropped.</summary>
    public void Configure(ConfiguredIds ids)
    {
        _retries.Configure(ids);
        foreach (var cluster in ids.Clusters)
        {
            foreach (var outcome in Outcomes)
            {
                _retries.Start(new RetrySeries(cluster.ClusterId, outcome));
            }
        }
    }

    public void Record(string cluster, string outcome)
    {
        if (_retries.Enabled)
        {
            _retries.Add(new RetrySeries(cluster, outcome));
        }
    }
}

/// <summary>One series of <c>lbproxy_proxy_retries_total</c>.</summary>
internal readonly record struct RetrySeries(string Cluster, string Outcome) : IConfiguredSeriesKey
{
    public bool IsConfiguredIn(ConfiguredIds ids) => ids.HasCluster(Cluster);

    public TagList Tags() => new() { { MetricTags.Cluster, Cluster }, { MetricTags.Outcome, Outcome } };
}
