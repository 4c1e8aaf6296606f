using System.Runtime.CompilerServices;
using LbProxy.Forwarding;
using Microsoft.Extensions.Options;
using Yarp.ReverseProxy.Forwarder;
using Yarp.ReverseProxy.Health;
using Yarp.ReverseProxy.Model;

namespace LbProxy.Health;

/// <summary>
/// Takes a destination out at once when a connection to it fails before anything was sent (refused: the origin
/// is not running; or timed out) or when it answers nothing for the activity timeout, as nginx does after one such failure, instead of waiting for YARP's transport failure rate
/// to build up over its window while every request for the destination's keys tries it first. It wraps every
/// passive health policy (YARP's <c>TransportFailureRate</c> and any other), so it runs where YARP already
/// looks at each forwarded request, for clusters with passive health on, at no cost of its own per request.
/// The destination is marked unhealthy for the cluster's <c>Passive:ReactivationPeriod</c> (else
/// <see cref="HealthOptions.RefusedReactivationPeriod"/>), then comes back as unknown. The inner policy marks
/// a destination healthy after any request below its failure rate: requests that were in flight when the
/// origin died pass it afterwards, and are kept from bringing the destination back early. A connect that failed
/// for a reason of this machine (no local port left, too many open sockets, the upstream connection cap) takes nothing
/// out and is not shown to the inner policy either: it says nothing about the origin, and under port or descriptor
/// exhaustion every destination would go at once.
/// </summary>
internal sealed partial class RefusedConnectionPolicy(
    IPassiveHealthCheckPolicy inner,
    IDestinationHealthUpdater healthUpdater,
    IOptionsMonitor<HealthOptions> options,
    TimeProvider time,
    ILogger<RefusedConnectionPolicy> logger) : IPassiveHealthCheckPolicy
{
    // Static: one table for every wrapped policy, keyed by destination, which a reload replaces.
    private static readonly ConditionalWeakTable<DestinationState, StrongBox<long>> OutUntil = new();

    public string Name => inner.Name;

    public void RequestProxied(HttpContext context, ClusterState cluster, DestinationState destination)
    {
        var error = context.Features.Get<IForwarderErrorFeature>();
        if (UpstreamFailure.NothingSent(error) && UpstreamFailure.LocalFailure(error))
        {
            // Not even the inner policy sees it: a failure rate built of this machine's failures took every
            // destination out when the process ran out of descriptors.
            LogLocalFailure(logger, destination.DestinationId, cluster.ClusterId, error!.Exception?.GetBaseException().Message ?? error.Error.ToString());
            return;
        }

        inner.RequestProxied(context, cluster, destination);
        var now = time.GetUtcNow().UtcTicks;
        if (ReasonToTakeOut(error) is { } reason)
        {
            var period = cluster.Model.Config.HealthCheck?.Passive?.ReactivationPeriod ?? options.CurrentValue.RefusedReactivationPeriod;
            Volatile.Write(ref OutUntil.GetValue(destination, static _ => new StrongBox<long>()).Value, now + period.Ticks);
            if (destination.Health.Passive != DestinationHealth.Unhealthy)
            {
                healthUpdater.SetPassive(cluster, destination, DestinationHealth.Unhealthy, period);
                LogTakenOut(logger, destination.DestinationId, cluster.ClusterId, period, reason);
            }

            return;
        }

        if (OutUntil.TryGetValue(destination, out var until) && Volatile.Read(ref until.Value) is var outUntil && now < outUntil
            && destination.Health.Passive != DestinationHealth.Unhealthy)
        {
            // A request sent before the destination was taken out has just been judged by the inner policy,
            // which may have marked it healthy again: keep it out for what is left of its time.
            healthUpdater.SetPassive(cluster, destination, DestinationHealth.Unhealthy, TimeSpan.FromTicks(outUntil - now));
        }
    }

    /// <summary>
    /// Why a failed forward takes its destination out at once, or null: refused (nothing listens), the connect timed
    /// out (stopped, or its accept queue full), or no response headers came for the activity timeout (it accepts and
    /// answers nothing). The last two waited a timeout each; the next requests should not, before a probe says so.
    /// </summary>
    private static string? ReasonToTakeOut(IForwarderErrorFeature? error) =>
        UpstreamFailure.ConnectTimedOut(error) ? "its connect timed out"
        : UpstreamFailure.NothingSent(error) ? "it refused a connection"
        : UpstreamFailure.ResponseTimedOut(error) ? "no response came within the activity timeout"
        : null;

    /// <summary>Wraps every passive health policy registered so far; call after <c>AddReverseProxy</c>.</summary>
    public static void Decorate(IServiceCollection services)
    {
        var decorated = 0;
        for (var i = 0; i < services.Count; i++)
        {
            var descriptor = services[i];
            if (descriptor.ServiceType != typeof(IPassiveHealthCheckPolicy) || descriptor.IsKeyedService)
            {
                continue;
            }

            services[i] = ServiceDescriptor.Singleton<IPassiveHealthCheckPolicy>(sp => new RefusedConnectionPolicy(
                Create(sp, descriptor),
                sp.GetRequiredService<IDestinationHealthUpdater>(),
                sp.GetRequiredService<IOptionsMonitor<HealthOptions>>(),
                sp.GetRequiredService<TimeProvider>(),
                sp.GetRequiredService<ILogger<RefusedConnectionPolicy>>()));
            decorated++;
        }

        if (decorated == 0)
        {
            throw new InvalidOperationException("no passive health policy to wrap: register the reverse proxy first");
        }
    }

    private static IPassiveHealthCheckPolicy Create(IServiceProvider services, ServiceDescriptor descriptor) =>
        (IPassiveHealthCheckPolicy)(descriptor.ImplementationInstance
            ?? descriptor.ImplementationFactory?.Invoke(services)
            ?? ActivatorUtilities.CreateInstance(services, descriptor.ImplementationType!));

    [LoggerMessage(EventId = LogEvents.RefusedTakenOut, Level = LogLevel.Warning, Message = "Took {Destination} of cluster {Cluster} out for {Period}: {Reason}")]
    private static partial void LogTakenOut(ILogger logger, string destination, string cluster, TimeSpan period, string reason);

    [LoggerMessage(EventId = LogEvents.RefusedLocalFailure, Level = LogLevel.Warning,
        Message = "Could not connect to {Destination} of cluster {Cluster} for a reason of this machine, not taking it out: {Reason}")]
    private static partial void LogLocalFailure(ILogger logger, string destination, string cluster, string reason);
}
