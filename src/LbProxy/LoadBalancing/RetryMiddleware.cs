using System.Collections.Frozen;
using LbProxy.Forwarding;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;
using Yarp.ReverseProxy.Forwarder;
using Yarp.ReverseProxy.Model;

namespace LbProxy.LoadBalancing;

/// <summary>
/// Safe retries, placed before YARP's load balancing so that every attempt is balanced anew over the
/// destinations not yet tried: for ConsistentHash that is the runner-up for the key, for the others the next
/// pick. Only a request without a body, of a retryable method, whose forward failed before any response byte
/// reached the client (connection refused, reset or timed out, timeout before the response headers) is retried;
/// within the cluster's retry budget unless the connection failed before anything was sent (refused or timed out);
/// after a timeout of the response headers at most once more, so a client waits one activity timeout at most. A
/// connection that failed for a reason of this machine (descriptors, ports, the upstream connection cap) is not
/// retried: the client gets the cluster's 503 at once. Each attempt passes through passive health, which sees every failure.
/// </summary>
internal sealed partial class RetryMiddleware
{
    private readonly RequestDelegate _next;
    private readonly IOptionsMonitor<RetryOptions> _options;
    private readonly RetryBudgets _budgets;
    private readonly RetryMetrics _metrics;
    private readonly ILogger<RetryMiddleware> _logger;
    private FrozenSet<string> _methods;

    public RetryMiddleware(RequestDelegate next, IOptionsMonitor<RetryOptions> options, RetryBudgets budgets, RetryMetrics metrics, ILogger<RetryMiddleware> logger)
    {
        _next = next;
        _options = options;
        _budgets = budgets;
        _metrics = metrics;
        _logger = logger;
        _methods = MethodsOf(options.CurrentValue);
        // The set is rebuilt off the request path when the options change, never per request.
        options.OnChange(changed => _methods = MethodsOf(changed));
    }

    public Task Invoke(HttpContext context)
    {
        var options = _options.CurrentValue;
        if (!options.Enabled || options.MaxAttempts <= 1 || !_methods.Contains(context.Request.Method) || HasBody(context))
        {
            return _logger.IsEnabled(LogLevel.Debug) ? InvokeNotRetryableAsync(context, options) : _next(context);
        }

        return InvokeWithRetriesAsync(context, options);
    }

    /// <summary>At Debug: a request that is never retried says why, when its forward failed.</summary>
    private async Task InvokeNotRetryableAsync(HttpContext context, RetryOptions options)
    {
        await _next(context);
        if (_logger.IsEnabled(LogLevel.Debug) && context.Features.Get<IForwarderErrorFeature>() is not null)
        {
            var why = !options.Enabled || options.MaxAttempts <= 1 ? "retries are off"
                : HasBody(context) ? "it has a body" : "its method is not retried";
            var cluster = ClusterOf(context);
            LogNotRetried(_logger, cluster, 1, why);
        }
    }

    private async Task InvokeWithRetriesAsync(HttpContext context, RetryOptions options)
    {
        var proxy = context.GetReverseProxyFeature();
        var clusterId = proxy.Cluster?.Config.ClusterId ?? string.Empty;
        var budget = _budgets.For(clusterId);
        budget.RecordRequest();
        var candidates = proxy.AvailableDestinations;
        List<DestinationState>? tried = null;
        var responseTimeouts = 0;

        for (var attempt = 1; ; attempt++)
        {
            await _next(context);
            var failed = FailedBeforeResponse(context);
            if (attempt > 1)
            {
                _metrics.Record(clusterId, failed ? RetryMetrics.Failed : RetryMetrics.Succeeded);
            }

            if (!failed || attempt >= options.MaxAttempts || proxy.ProxiedDestination is not { } failedDestination)
            {
                if (_logger.IsEnabled(LogLevel.Debug) && context.Features.Get<IForwarderErrorFeature>() is not null)
                {
                    LogNotRetried(_logger, clusterId, attempt, failed
                        ? $"it was the last of {options.MaxAttempts} attempts"
                        : "the failure came after the response had started, or the client left");
                }

                return;
            }

            var error = context.Features.Get<IForwarderErrorFeature>();
            if (UpstreamFailure.NothingSent(error) && UpstreamFailure.LocalFailure(error))
            {
                // This machine is out of sockets or at its upstream connection cap: another destination would fail
                // alike, after another wait. The client gets the 503 with Retry-After at once.
                LogNotRetried(_logger, clusterId, attempt, "the connection failed for a reason of this machine (descriptors, ports or the connection cap)");
                context.Features.Set(RetriesExhaustedFeature.AtCapacity);
                return;
            }

            if (UpstreamFailure.ResponseTimedOut(error) && ++responseTimeouts > 1)
            {
                // One wait for a silent destination is the most a client is made to sit through.
                LogNotRetried(_logger, clusterId, attempt, "a second attempt's response timed out");
                return;
            }

            (tried ??= []).Add(failedDestination);
            var remaining = Untried(candidates, tried);
            if (remaining.Count == 0)
            {
                // Every destination was tried and none answered: say so, and the client gets the cluster's 503
                // with Retry-After (Health/NoHealthyDestinationMiddleware) rather than a bare 502.
                _metrics.Record(clusterId, RetryMetrics.NoDestination);
                LogNotRetried(_logger, clusterId, attempt, "no untried destination is left");
                context.Features.Set(RetriesExhaustedFeature.Instance);
                return;
            }

            // A connection that failed before anything was sent cost the origin nothing: retrying it elsewhere is
            // no storm, so only retries of requests an origin may have seen (resets after sending, timeouts)
            // are bounded by the budget.
            var nothingSent = UpstreamFailure.NothingSent(error);
            if (!nothingSent && !budget.TryTakeRetry(options.BudgetPercent, options.MinRetriesPerSecond))
            {
                _metrics.Record(clusterId, RetryMetrics.BudgetExhausted);
                LogNotRetried(_logger, clusterId, attempt, "the retry budget is spent");
                LogBudgetExhausted(_logger, clusterId);
                return;
            }

            LogRetrying(_logger, clusterId, failedDestination.DestinationId, attempt + 1,
                nothingSent ? "nothing was sent, outside the budget" : "within the budget");
            ResetForRetry(context);
            proxy.AvailableDestinations = remaining;
        }
    }

    private static string ClusterOf(HttpContext context) => context.GetReverseProxyFeature().Cluster?.Config.ClusterId ?? string.Empty;

    private static bool FailedBeforeResponse(HttpContext context) =>
        !context.Response.HasStarted
        && !context.RequestAborted.IsCancellationRequested
        && context.Features.Get<IForwarderErrorFeature>()?.Error is ForwarderError.Request or ForwarderError.RequestTimedOut;

    private static bool HasBody(HttpContext context) =>
        context.Features.Get<IHttpRequestBodyDetectionFeature>()?.CanHaveBody ?? (context.Request.ContentLength > 0 || context.Request.Headers.TransferEncoding.Count > 0);

    private static List<DestinationState> Untried(IReadOnlyList<DestinationState> candidates, List<DestinationState> tried)
    {
        var remaining = new List<DestinationState>(candidates.Count);
        foreach (var candidate in candidates)
        {
            if (!tried.Contains(candidate))
            {
                remaining.Add(candidate);
            }
        }

        return remaining;
    }

    private static void ResetForRetry(HttpContext context)
    {
        // Nothing reached the client yet: clear what the failed attempt set, as if it had not happened.
        context.Features.Set<IForwarderErrorFeature>(null);
        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.Headers.Clear();
    }

    private static FrozenSet<string> MethodsOf(RetryOptions options) =>
        (options.Methods.Length > 0 ? options.Methods : RetryOptions.DefaultMethods).ToFrozenSet(StringComparer.OrdinalIgnoreCase);

    [LoggerMessage(EventId = LogEvents.ProxyRetrying, Level = LogLevel.Debug,
        Message = "Retrying a request of cluster {Cluster}: destination {Destination} failed before responding; attempt {Attempt} on an untried destination, {Why}")]
    private static partial void LogRetrying(ILogger logger, string cluster, string destination, int attempt, string why);

    [LoggerMessage(EventId = LogEvents.ProxyNotRetried, Level = LogLevel.Debug, Message = "Not retrying a request of cluster {Cluster} after attempt {Attempt}: {Why}")]
    private static partial void LogNotRetried(ILogger logger, string cluster, int attempt, string why);

    [LoggerMessage(EventId = LogEvents.RetryBudgetExhausted, Level = LogLevel.Warning, Message = "Retry budget of cluster {Cluster} is spent; failed forwards are not retried for now")]
    private static partial void LogBudgetExhausted(ILogger logger, string cluster);
}
