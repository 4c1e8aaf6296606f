using System.Runtime.CompilerServices;
using Yarp.ReverseProxy.Health;
using Yarp.ReverseProxy.Model;

namespace LbProxy.Health;

/// <summary>
/// Optional outlier ejection: a destination that answers <c>OutlierEjection.Consecutive5xx</c> 5xx responses in
/// a row is marked unhealthy (passively, through YARP's own health updater) for <c>OutlierEjection.Duration</c>,
/// unless that would take more than <c>OutlierEjection.MaxEjectedPercent</c> of the cluster out: an origin that
/// answers 500s is as useless as one that refuses connections, which YARP's passive health alone cannot see.
/// It runs outside YARP's passive health stage: that stage re-marks a destination healthy after every request
/// that crossed the wire, and must not undo an ejection made for the same request.
/// </summary>
internal sealed partial class OutlierEjectionMiddleware(RequestDelegate next, IDestinationHealthUpdater healthUpdater, ILogger<OutlierEjectionMiddleware> logger)
{
    private readonly ConditionalWeakTable<DestinationState, StrongBox<int>> _consecutive5xx = new();

    public Task Invoke(HttpContext context)
    {
        var cluster = context.GetReverseProxyFeature().Cluster;
        return cluster is not null && OutlierEjectionSettings.Of(cluster) is { } settings
            ? InvokeObservedAsync(context, settings)
            : next(context);
    }

    private async Task InvokeObservedAsync(HttpContext context, OutlierEjectionSettings settings)
    {
        await next(context);
        var proxy = context.GetReverseProxyFeature();
        if (proxy.ProxiedDestination is not { } destination)
        {
            return;
        }

        var streak = _consecutive5xx.GetValue(destination, static _ => new StrongBox<int>());
        if (context.Response.StatusCode < 500)
        {
            Volatile.Write(ref streak.Value, 0);
            return;
        }

        if (Interlocked.Increment(ref streak.Value) >= settings.Consecutive5xx)
        {
            Volatile.Write(ref streak.Value, 0);
            TryEject(context.GetRouteModel().Cluster!, destination, settings);
        }
    }

    private void TryEject(ClusterState cluster, DestinationState destination, OutlierEjectionSettings settings)
    {
        var all = cluster.Destinations.Values;
        var ejected = 0;
        foreach (var other in all)
        {
            if (other.Health.Passive == DestinationHealth.Unhealthy)
            {
                ejected++;
            }
        }

        if (destination.Health.Passive == DestinationHealth.Unhealthy)
        {
            return;
        }

        if ((ejected + 1) * 100 > settings.MaxEjectedPercent * all.Count)
        {
            LogEjectionCapped(logger, destination.DestinationId, cluster.ClusterId, settings.MaxEjectedPercent);
            return;
        }

        healthUpdater.SetPassive(cluster, destination, DestinationHealth.Unhealthy, settings.Duration);
        LogEjected(logger, destination.DestinationId, cluster.ClusterId, settings.Consecutive5xx, settings.Duration);
    }

    [LoggerMessage(EventId = 6001, Level = LogLevel.Warning, Message = "Ejected {Destination} of cluster {Cluster} after {Count} 5xx responses in a row, for {Duration}")]
    private static partial void LogEjected(ILogger logger, string destination, string cluster, int count, TimeSpan duration);

    [LoggerMessage(EventId = 6002, Level = LogLevel.Warning, Message = "Not ejecting {Destination} of cluster {Cluster}: at most {Percent}% of a cluster is ejected")]
    private static partial void LogEjectionCapped(ILogger logger, string destination, string cluster, int percent);
}
