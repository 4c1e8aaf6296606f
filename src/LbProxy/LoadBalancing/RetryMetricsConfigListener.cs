using Yarp.ReverseProxy.Configuration;

namespace LbProxy.LoadBalancing;

/// <summary>Starts each configured cluster's retry series at 0 when YARP applies a config.</summary>
internal sealed class RetryMetricsConfigListener(RetryMetrics metrics) : IConfigChangeListener
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
