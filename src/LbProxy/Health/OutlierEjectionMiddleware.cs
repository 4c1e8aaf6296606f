using System.Runtime.CompilerServices;
using Yarp.ReverseProxy.Forwarder;
using Yarp.ReverseProxy.Health;
using Yarp.ReverseProxy.Model;

namespace LbProxy.Health;

/// <summary>
/// Optional outlier ejection: a destination that answers <c>OutlierEjection.Consecutive5xx</c> 5xx responses in
/// a row is marked unhealthy (passively, through YARP's own health updater) for <c>OutlierEjection.Duration</c>,
/// unless that would take more than <c>OutlierEjection.MaxEjectedPercent</c> of the cluster out: an origin that
/// answers 500s is as useless as one that refuses connections, which YARP's passive health alone cannot see.
/// It runs outside YARP's passive health stage: that stage re-marks a destination healthy after every request
/// that crossed the wire, and must not undo an ejection, neither one made for the same request nor one made
/// while other requests to the destination were still in flight.
/// </summary>
internal sealed partial class OutlierEjectionMiddleware(
    RequestDelegate next,
    IDestinationHealthUpdater healthUpdater,
    OutlierEjectionMetrics metrics,
    TimeProvider time,
    ILogger<OutlierEjectionMiddleware> logger)
{
    private readonly ConditionalWeakTable<DestinationState, EjectionState> _states = new();
    private readonly ConditionalWeakTable<ClusterState, Lock> _clusterLocks = new();

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

        var state = _states.GetValue(destination, static _ => new EjectionState());
        var cluster = context.GetRouteModel().Cluster!;
        var now = time.GetUtcNow().UtcTicks;
        var ejectedUntil = Volatile.Read(ref state.EjectedUntilTicks);
        if (now < ejectedUntil)
        {
            // A request that was in flight when the destination was ejected has just passed YARP's passive
            // health stage, which marks a destination healthy after any request that crossed the wire: eject
            // it again for what is left of its time.
            if (destination.Health.Passive != DestinationHealth.Unhealthy)
            {
                healthUpdater.SetPassive(cluster, destination, DestinationHealth.Unhealthy, TimeSpan.FromTicks(ejectedUntil - now));
            }

            return;
        }

        if (context.Features.Get<IForwarderErrorFeature>() is not null)
        {
            // The proxy's own 502/504 (a transport failure): passive health's business, not an origin's answer.
            return;
        }

        if (context.Response.StatusCode < 500)
        {
            Volatile.Write(ref state.Consecutive5xx, 0);
            return;
        }

        if (Interlocked.Increment(ref state.Consecutive5xx) >= settings.Consecutive5xx)
        {
            Volatile.Write(ref state.Consecutive5xx, 0);
            if (TryEject(cluster, destination, settings))
            {
                Volatile.Write(ref state.EjectedUntilTicks, now + settings.Duration.Ticks);
            }
        }
    }

    private bool TryEject(ClusterState cluster, DestinationState destination, OutlierEjectionSettings settings)
    {
        // Count and eject as one step per cluster: two destinations failing at once must not both pass the cap.
        lock (_clusterLocks.GetValue(cluster, static _ => new Lock()))
        {
            return TryEjectLocked(cluster, destination, settings);
        }
    }

    private bool TryEjectLocked(ClusterState cluster, DestinationState destination, OutlierEjectionSettings settings)
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
            return false;
        }

        if ((ejected + 1) * 100 > settings.MaxEjectedPercent * all.Count)
        {
            LogEjectionCapped(logger, destination.DestinationId, cluster.ClusterId, settings.MaxEjectedPercent);
            metrics.Record(cluster.ClusterId, destination.DestinationId, OutlierEjectionMetrics.Capped);
            return false;
        }

        healthUpdater.SetPassive(cluster, destination, DestinationHealth.Unhealthy, settings.Duration);
        LogEjected(logger, destination.DestinationId, cluster.ClusterId, settings.Consecutive5xx, settings.Duration);
        metrics.Record(cluster.ClusterId, destination.DestinationId, OutlierEjectionMetrics.Ejected);
        return true;
    }

    private sealed class EjectionState
    {
        public int Consecutive5xx;
        public long EjectedUntilTicks;
    }

    [LoggerMessage(EventId = LogEvents.Ejected, Level = LogLevel.Warning, Message = "Ejected {Destination} of cluster {Cluster} after {Count} 5xx responses in a row, for {Duration}")]
    private static partial void LogEjected(ILogger logger, string destination, string cluster, int count, TimeSpan duration);

    [LoggerMessage(EventId = LogEvents.EjectionCapped, Level = LogLevel.Warning, Message = "Not ejecting {Destination} of cluster {Cluster}: at most {Percent}% of a cluster is ejected")]
    private static partial void LogEjectionCapped(ILogger logger, string destination, string cluster, int percent);
}
