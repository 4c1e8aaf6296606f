using Yarp.ReverseProxy.Configuration;

namespace LbProxy.Metrics;

/// <summary>
/// Starts every <see cref="IClusterSeries"/> of each configured cluster at 0 when YARP applies a config (the
/// "no available destination" errors, the retries). Bounded by the number of clusters.
/// </summary>
internal sealed class ClusterSeriesConfigListener(IEnumerable<IClusterSeries> series) : IConfigChangeListener
{
    private readonly IClusterSeries[] _series = [.. series];

    public void ConfigurationApplied(IReadOnlyList<IProxyConfig> proxyConfigs)
    {
        foreach (var config in proxyConfigs)
        {
            foreach (var cluster in config.Clusters)
            {
                foreach (var instrument in _series)
                {
                    instrument.ClusterConfigured(cluster);
                }
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

/// <summary>
/// Instruments with per-cluster series that should exist at 0 from the moment a cluster is configured: a
/// Prometheus counter that first appears at 1 hides its first increase from <c>increase()</c> and alerts.
/// </summary>
internal interface IClusterSeries
{
    void ClusterConfigured(ClusterConfig cluster);
}
