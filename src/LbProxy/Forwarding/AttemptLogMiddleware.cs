using System.Diagnostics;
using Yarp.ReverseProxy.Forwarder;

namespace LbProxy.Forwarding;

/// <summary>
/// At Debug, one line per forward attempt, right after load balancing chose its destination: the destination,
/// the upstream status or the failure (and whether anything had been sent), and the time. Each retry runs it
/// again. Below Debug it costs one <c>IsEnabled</c> check.
/// </summary>
internal sealed partial class AttemptLogMiddleware(RequestDelegate next, ILogger<AttemptLogMiddleware> logger)
{
    public Task Invoke(HttpContext context) => logger.IsEnabled(LogLevel.Debug) ? InvokeLoggedAsync(context) : next(context);

    private async Task InvokeLoggedAsync(HttpContext context)
    {
        var started = Stopwatch.GetTimestamp();
        var feature = context.Features.Get<AttemptLogFeature>();
        var attempt = feature is null ? 1 : ++feature.Attempts;
        var proxy = context.GetReverseProxyFeature();
        // After load balancing the available list is the one destination chosen for this attempt.
        var chosen = proxy.AvailableDestinations.Count == 1 ? proxy.AvailableDestinations[0].DestinationId : "(none)";
        await next(context);
        var cluster = proxy.Cluster?.Config.ClusterId ?? "(none)";
        var destination = proxy.ProxiedDestination?.DestinationId ?? chosen;
        var elapsed = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        if (context.Features.Get<IForwarderErrorFeature>() is { } error)
        {
            LogAttemptFailed(logger, attempt, cluster, destination, error.Error,
                UpstreamFailure.NothingSent(error) ? "nothing was sent" : "the origin may have seen the request",
                error.Exception?.Message ?? "", elapsed);
        }
        else
        {
            LogAttempt(logger, attempt, cluster, destination, context.Response.StatusCode, elapsed);
        }
    }

    [LoggerMessage(EventId = LogEvents.ProxyAttempt, Level = LogLevel.Debug,
        Message = "Attempt {Attempt} of cluster {Cluster} to destination {Destination}: upstream answered {Status} in {ElapsedMs:0.0} ms")]
    private static partial void LogAttempt(ILogger logger, int attempt, string cluster, string destination, int status, double elapsedMs);

    [LoggerMessage(EventId = LogEvents.ProxyAttemptFailed, Level = LogLevel.Debug,
        Message = "Attempt {Attempt} of cluster {Cluster} to destination {Destination} failed: {Error}, {Sent} ({Reason}) after {ElapsedMs:0.0} ms")]
    private static partial void LogAttemptFailed(ILogger logger, int attempt, string cluster, string destination, ForwarderError error, string sent, string reason, double elapsedMs);
}
