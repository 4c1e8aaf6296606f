using System.Runtime.CompilerServices;
using LbProxy.Forwarding;
using Microsoft.Extensions.Options;
using Yarp.ReverseProxy.Forwarder;
using Yarp.ReverseProxy.Health;
using Yarp.ReverseProxy.Model;

namespace LbProxy.Health;

/// <summary>
/// Takes a destination out at once when a connection to it fails before anything was sent (refused: the origin
/// is not running), as nginx does after one such failure, instead of waiting for YARP's transport failure rate
/// to build up over its window while every request for the destination's keys tries it first. It is marked
/// unhealthy through YARP's passive health for the cluster's <c>Passive:ReactivationPeriod</c> (else
/// <see cref="HealthOptions.RefusedReactivationPeriod"/>), then comes back as unknown. It runs outside YARP's
/// passive health stage, which marks a destination healthy after any request below its failure rate: requests
/// that were in flight when the origin died pass that stage afterwards and must not bring it back early.
/// </summary>
internal sealed partial class RefusedConnectionMiddleware(
    RequestDelegate next,
    IDestinationHealthUpdater healthUpdater,
    IOptionsMonitor<HealthOptions> options,
    TimeProvider time,
    ILogger<RefusedConnectionMiddleware> logger)
{
    private readonly ConditionalWeakTable<DestinationState, StrongBox<long>> _outUntil = new();

    public Task Invoke(HttpContext context)
    {
        var forwarded = next(context);
        if (!forwarded.IsCompletedSuccessfully)
        {
            return ObserveAfterAsync(forwarded, context);
        }

        Observe(context);
        return Task.CompletedTask;
    }

    private async Task ObserveAfterAsync(Task forwarded, HttpContext context)
    {
        await forwarded;
        Observe(context);
    }

    private void Observe(HttpContext context)
    {
        var proxy = context.GetReverseProxyFeature();
        // A cluster with passive health off asked for no passive marks: its destinations stay in.
        if (proxy.ProxiedDestination is not { } destination || proxy.Cluster?.Config.HealthCheck?.Passive?.Enabled != true)
        {
            return;
        }

        var now = time.GetUtcNow().UtcTicks;
        if (UpstreamFailure.NothingSent(context.Features.Get<IForwarderErrorFeature>()))
        {
            var period = proxy.Cluster.Config.HealthCheck.Passive.ReactivationPeriod ?? options.CurrentValue.RefusedReactivationPeriod;
            Volatile.Write(ref _outUntil.GetValue(destination, static _ => new StrongBox<long>()).Value, now + period.Ticks);
            if (destination.Health.Passive != DestinationHealth.Unhealthy)
            {
                healthUpdater.SetPassive(context.GetRouteModel().Cluster!, destination, DestinationHealth.Unhealthy, period);
                LogTakenOut(logger, destination.DestinationId, proxy.Cluster.Config.ClusterId, period);
            }

            return;
        }

        if (_outUntil.TryGetValue(destination, out var until) && Volatile.Read(ref until.Value) is var outUntil && now < outUntil
            && destination.Health.Passive != DestinationHealth.Unhealthy)
        {
            // A request sent before the destination was taken out has just passed passive health, which may
            // have marked it healthy again: keep it out for what is left of its time.
            healthUpdater.SetPassive(context.GetRouteModel().Cluster!, destination, DestinationHealth.Unhealthy, TimeSpan.FromTicks(outUntil - now));
        }
    }

    [LoggerMessage(EventId = LogEvents.RefusedTakenOut, Level = LogLevel.Warning, Message = "Took {Destination} of cluster {Cluster} out for {Period}: it refused a connection")]
    private static partial void LogTakenOut(ILogger logger, string destination, string cluster, TimeSpan period);
}
