using Yarp.ReverseProxy.Configuration;

namespace LbProxy.Metrics;

/// <summary>
/// Starts each configured cluster's "no available destination" error series at 0 when YARP applies a config.
/// A Prometheus counter that first appears at 1 hides its first increase from <c>increase()</c> and alerts;
/// this is the error an edge alerts on, and it is bounded by the number of clusters.
/// </summary>
internal sealed class ProxyMetricsConfigListener(ProxyMetrics metrics) : IConfigChangeListener
{
    public void ConfigurationApplied(IReadOnlyList<IProxyConfig> proxyConfigs)
    {
        foreach (var config in proxyConfigs)
        {
            foreach (var cluster in config.Clusters)
            {
                metrics.ClusterConfigured(cluster.ClusterId);
            }
        }
    }

    public void ConfigurationLoaded(IReadOnlyList<IProxyConfig> proxyConfigs)
    {
    }

    public void ConfigurationLoadingFailed(IProxyConfigProvider configProvider, Exception exception)
    {
    }

    public void ConfigurationApplyingFailed(IReadOnlyList<IProxyConfig> proxyConfigs, Exception exception)
    {
    }
}
