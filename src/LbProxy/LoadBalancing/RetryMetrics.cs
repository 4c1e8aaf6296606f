using System.Diagnostics;
using System.Diagnostics.Metrics;
using LbProxy.Metrics;
using Yarp.ReverseProxy.Configuration;

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

    private readonly Counter<long> _retries;

    public RetryMetrics(IMeterFactory meterFactory)
    {
        _retries = meterFactory.Create(LbProxyMeter.Name).CreateCounter<long>(
            RetriesName,
            unit: "{retry}",
            description: "Retries of failed forwards, by cluster and outcome: succeeded, failed, budget_exhausted, no_destination.");
    }

    private static readonly string[] Outcomes = [Succeeded, Failed, BudgetExhausted, NoDestination];

    /// <summary>Four series per configured cluster, started at 0.</summary>
    public void ClusterConfigured(ClusterConfig cluster)
    {
        foreach (var outcome in Outcomes)
        {
            Record(cluster.ClusterId, outcome, 0);
        }
    }

    public void Record(string cluster, string outcome, long count = 1)
    {
        if (_retries.Enabled)
        {
            var tags = new TagList { { MetricTags.Cluster, cluster }, { MetricTags.Outcome, outcome } };
            _retries.Add(count, tags);
        }
    }
}
