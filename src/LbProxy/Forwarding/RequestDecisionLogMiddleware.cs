using System.Diagnostics;
using Yarp.ReverseProxy.Forwarder;

namespace LbProxy.Forwarding;

/// <summary>
/// At Debug, one line per proxied request with what the proxy decided: route, cluster, the destination that
/// answered, how many attempts it took, the status and the time. First in YARP's pipeline, so a request that
/// found no destination has its line too. Below Debug it costs one <c>IsEnabled</c> check and nothing else.
/// </summary>
internal sealed partial class RequestDecisionLogMiddleware(RequestDelegate next, ILogger<RequestDecisionLogMiddleware> logger)
{
    public Task Invoke(HttpContext context) => logger.IsEnabled(LogLevel.Debug) ? InvokeLoggedAsync(context) : next(context);

    private async Task InvokeLoggedAsync(HttpContext context)
    {
        var started = Stopwatch.GetTimestamp();
        var attempts = new AttemptLogFeature();
        context.Features.Set(attempts);
        try
        {
            await next(context);
        }
        finally
        {
            var proxy = context.GetReverseProxyFeature();
            var error = context.Features.Get<IForwarderErrorFeature>();
            var errorName = error is null ? "none" : error.Error.ToString();
            var elapsedMs = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            LogRequest(logger, context.Request.Method, context.Request.Path.Value ?? "",
                proxy.Route.Config.RouteId, proxy.Cluster?.Config.ClusterId ?? "(none)",
                context.Response.StatusCode, proxy.ProxiedDestination?.DestinationId ?? "(none)", attempts.Attempts,
                errorName, elapsedMs);
        }
    }

    [LoggerMessage(EventId = LogEvents.ProxyRequest, Level = LogLevel.Debug,
        Message = "Proxied {Method} {Path} by route {Route} to cluster {Cluster}: {Status} from destination {Destination} after {Attempts} attempt(s) (proxy error: {Error}) in {ElapsedMs:0.0} ms")]
    private static partial void LogRequest(ILogger logger, string method, string path, string route, string cluster, int status, string destination, int attempts, string error, double elapsedMs);
}
