using System.Collections.Frozen;
using LbProxy.Images;
using Yarp.ReverseProxy.Forwarder;
using Yarp.ReverseProxy.LoadBalancing;
using Yarp.ReverseProxy.Model;

namespace LbProxy.Admission;

/// <summary>
/// Origin protection, just before YARP's load balancing (and under the retry stage, so each attempt takes a slot):
/// for a cluster with <c>Concurrency.MaxPerDestination</c>, a request takes a slot on a destination with one free,
/// picked among those by the cluster's own balancing policy, and YARP's balancing then passes that one destination
/// through; with none free it waits in the cluster's queue (route <c>Priority</c> first, then arrival) until a
/// release hands it a slot, and is shed with a 503 and <c>Retry-After</c> when the queue is full or it waited
/// <c>QueueTimeout</c>. A waiter whose client leaves goes at once and is never forwarded. A destination at its limit
/// is busy, not unhealthy: health state is never touched. A cluster without limits costs one cached lookup.
/// </summary>
internal sealed partial class AdmissionMiddleware
{
    private readonly RequestDelegate _next;
    private readonly AdmissionGates _gates;
    private readonly AdmissionMetrics _metrics;
    private readonly AdmissionState _state;
    private readonly TimeProvider _time;
    private readonly ILogger<AdmissionMiddleware> _logger;
    private readonly FrozenDictionary<string, ILoadBalancingPolicy> _policies;
    private readonly ILoadBalancingPolicy _defaultPolicy;

    public AdmissionMiddleware(
        RequestDelegate next,
        AdmissionGates gates,
        AdmissionMetrics metrics,
        AdmissionState state,
        IEnumerable<ILoadBalancingPolicy> policies,
        ILogger<AdmissionMiddleware> logger)
    {
        _next = next;
        _gates = gates;
        _metrics = metrics;
        _state = state;
        _time = gates.Time;
        _logger = logger;
        _policies = policies.ToFrozenDictionary(static p => p.Name, StringComparer.OrdinalIgnoreCase);
        // YARP's default when a cluster names no policy.
        _defaultPolicy = _policies.GetValueOrDefault(LoadBalancingPolicies.PowerOfTwoChoices) ?? _policies.Values.First();
    }

    public Task Invoke(HttpContext context)
    {
        var proxy = context.GetReverseProxyFeature();
        if (proxy.Cluster is not { } cluster || AdmissionSettings.Of(cluster) is not { } settings
            || proxy.AvailableDestinations.Count == 0 || proxy.Route.Cluster is not { } state)
        {
            return _next(context);
        }

        return AdmitAsync(context, proxy, state, settings);
    }

    private async Task AdmitAsync(HttpContext context, IReverseProxyFeature proxy, ClusterState state, AdmissionSettings settings)
    {
        var gate = _gates.For(state);
        var clusterId = state.ClusterId;
        var admission = gate.TryEnter(context, state, proxy.AvailableDestinations, settings, PolicyOf(proxy.Cluster.Config),
            RoutePriority.Of(proxy.Route));
        DestinationState destination;
        switch (admission.Kind)
        {
            case AdmissionKind.Admitted:
                destination = admission.Destination!;
                break;
            case AdmissionKind.Queued:
                if (settings.DegradeFormats)
                {
                    Degrade(context, clusterId);
                }

                if (await WaitAsync(context, gate, admission.Waiter!, settings, clusterId) is not { } granted)
                {
                    return;
                }

                destination = granted;
                break;
            case AdmissionKind.QueueFull:
                await ShedAsync(context, ShedFeature.QueueFull, clusterId, settings);
                return;
            default:
                await _next(context);
                return;
        }

        proxy.AvailableDestinations = destination; // a DestinationState is a list of itself: YARP's balancing passes it through
        OriginResponseTiming? timing = null;
        var inFlight = 0;
        if (settings.Adaptive)
        {
            timing = new OriginResponseTiming(_time.GetTimestamp());
            context.Features.Set(timing); // a retry's next attempt sets its own
            inFlight = AdmissionGate.SlotsOf(destination, settings.MaxPerDestination, _time).InFlight;
        }

        try
        {
            await _next(context);
        }
        finally
        {
            TimeSpan? rtt = timing is not null && !context.RequestAborted.IsCancellationRequested ? timing.Latency(_time) : null;
            gate.Release(destination, settings, rtt, rtt is not null && OriginFailed(context), inFlight);
        }
    }

    /// <summary>The slot handed over, or null when the request was shed (timed out, or its client left).</summary>
    private async Task<DestinationState?> WaitAsync(HttpContext context, AdmissionGate gate, Waiter waiter, AdmissionSettings settings, string clusterId)
    {
        var enqueued = _time.GetTimestamp();
        try
        {
            var granted = await waiter.Completion.Task.WaitAsync(waiter.Timeout, _time, context.RequestAborted);
            _state.Waited(clusterId, _time.GetElapsedTime(enqueued));
            return granted;
        }
        catch (TimeoutException)
        {
            _state.Waited(clusterId, _time.GetElapsedTime(enqueued));
            if (gate.Leave(waiter) is { } granted)
            {
                return granted; // handed over before the timeout was decided: within QueueTimeout, so it goes
            }

            await ShedAsync(context, ShedFeature.QueueTimeout, clusterId, settings);
            return null;
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            _state.Waited(clusterId, _time.GetElapsedTime(enqueued));
            if (gate.Leave(waiter) is { } granted)
            {
                gate.Release(granted, settings, rtt: null, error: false, inFlightAtStart: 0); // unused: the next waiter has it
            }

            await ShedAsync(context, ShedFeature.ClientGone, clusterId, settings);
            return null;
        }
    }

    /// <summary>
    /// A request that has to wait is sent upstream one class cheaper when its client accepts that class: a
    /// would-be waiter costs its origin less, so the queue holds less work. Never a class the client did not accept,
    /// never a dearer one.
    /// </summary>
    private void Degrade(HttpContext context, string clusterId)
    {
        if (context.Features.Get<IImageFormatFeature>() is not { FormatClass: not ImageFormats.Original } format)
        {
            return;
        }

        if (ImageFormatNegotiator.CheaperAccepted(format.FormatClass, ImageFormatNegotiator.Accepted(context.Request.Headers.Accept)) is { } cheaper)
        {
            context.Features.Set<IImageFormatFeature>(cheaper);
            _metrics.Degraded(clusterId, format.FormatClass, cheaper.FormatClass);
        }
    }

    private Task ShedAsync(HttpContext context, ShedFeature shed, string clusterId, AdmissionSettings settings)
    {
        if (_logger.IsEnabled(LogLevel.Debug))
        {
            LogShed(_logger, clusterId, shed.Reason);
        }

        return ShedAnswer.WriteAsync(context, _metrics, shed, clusterId, settings.RetryAfterSeconds, shed == ShedFeature.QueueFull
            ? $"503 cluster '{clusterId}' is at its limit and its queue is full\n"
            : $"503 cluster '{clusterId}' is at its limit: waited too long for a slot\n");
    }

    /// <summary>A 5xx or a failed forward: the origin's fault, a signal to lower an adaptive limit.</summary>
    private static bool OriginFailed(HttpContext context) =>
        context.Response.StatusCode >= 500
        || context.Features.Get<IForwarderErrorFeature>()?.Error is ForwarderError.Request or ForwarderError.RequestTimedOut
            or ForwarderError.ResponseHeaders;

    private ILoadBalancingPolicy PolicyOf(Yarp.ReverseProxy.Configuration.ClusterConfig cluster) =>
        string.IsNullOrEmpty(cluster.LoadBalancingPolicy) ? _defaultPolicy
            : _policies.GetValueOrDefault(cluster.LoadBalancingPolicy) ?? _defaultPolicy;

    [LoggerMessage(EventId = LogEvents.AdmissionShed, Level = LogLevel.Debug, Message = "Shed a request of cluster {Cluster}: {Reason}")]
    private static partial void LogShed(ILogger logger, string cluster, string reason);
}
