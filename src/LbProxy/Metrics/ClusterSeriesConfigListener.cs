using Yarp.ReverseProxy.Configuration;

namespace LbProxy.Metrics;

/// <summary>
/// Hands every <see cref="IClusterSeries"/> the ids of each config YARP applies: the series of new clusters start
/// at 0, those of removed clusters, destinations and routes leave <c>/metrics</c>. Bounded by the config.
/// </summary>
internal sealed class ClusterSeriesConfigListener(IEnumerable<IClusterSeries> series) : IConfigChangeListener
{
    private readonly IClusterSeries[] _series = [.. series];

    public void ConfigurationApplied(IReadOnlyList<IProxyConfig> proxyConfigs)
    {
        var ids = ConfiguredIds.From(proxyConfigs);
        foreach (var instrument in _series)
        {
            instrument.Configure(ids);
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
/// What is kept per configured cluster: instruments' series, and other state such as retry budgets. A series exists at 0 from the moment its cluster is configured (a
/// Prometheus counter that first appears at 1 hides its first increase from <c>increase()</c> and alerts), and
/// leaves <c>/metrics</c> once the config no longer names its cluster, destination or route (a config with churn,
/// blue/green pools under fresh names, would otherwise grow <c>/metrics</c> without bound); other state is
/// forgotten with its cluster too.
/// </summary>
internal interface IClusterSeries
{
    void Configure(ConfiguredIds ids);
}
