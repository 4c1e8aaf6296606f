namespace LbProxy.Metrics;

/// <summary>
/// Instruments with per-cluster series that should exist at 0 from the moment a cluster is configured: a
/// Prometheus counter that first appears at 1 hides its first increase from <c>increase()</c> and alerts.
/// </summary>
internal interface IClusterSeries
{
    void ClusterConfigured(string clusterId);
}
