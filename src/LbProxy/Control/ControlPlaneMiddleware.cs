using LbProxy.Edge;
using LbProxy.Metrics;
using Microsoft.Extensions.Options;

namespace LbProxy.Control;

/// <summary>
/// The control-plane split, before routing: a request whose path is under the control prefix in any spelling
/// (by <see cref="PathNormalizer"/>) is answered by the control branch (its own endpoint routing, over the
/// endpoints the stages map) and never goes further, so no YARP route, however it is written, can forward it to a
/// backend. <c>/metrics</c> in any spelling goes on to the scrape endpoint, or is a 404 on an endpoint other than
/// <c>LbProxy:Metrics:Endpoint</c> when one is set; that endpoint forwards nothing (404). Everything else passes on untouched.
/// </summary>
internal sealed class ControlPlaneMiddleware
{
    private readonly RequestDelegate _next;
    private readonly RequestDelegate _control;
    private readonly string _prefix;
    private readonly bool _metricsRequireToken;
    private readonly ControlAccess _access;
    private readonly MetricsEndpoint _metrics;
    private readonly ILogger<ControlPlaneMiddleware> _logger;

    public ControlPlaneMiddleware(
        RequestDelegate next,
        RequestDelegate control,
        IOptions<ControlOptions> options,
        ControlPrefix prefix,
        ControlAccess access,
        MetricsEndpoint metrics,
        ILogger<ControlPlaneMiddleware> logger)
    {
        _next = next;
        _control = control;
        _prefix = prefix.Value;
        _metricsRequireToken = options.Value.MetricsRequireToken;
        _access = access;
        _metrics = metrics;
        _logger = logger;
    }

    public Task Invoke(HttpContext context)
    {
        var path = PathNormalizer.Normalize(context.Request.Path.Value);
        if (!PathNormalizer.IsUnder(path, _prefix))
        {
            // /metrics in any spelling goes to the scrape endpoint: the access-log filter, by the same
            // normalizer, skips it, so it must never be a proxied request instead.
            if (string.Equals(path, WellKnownPaths.Metrics, StringComparison.OrdinalIgnoreCase))
            {
                if (!_metrics.AnswersMetrics(context))
                {
                    return NotFound(context);
                }

                if (_metricsRequireToken && !_access.IsAllowed(context))
                {
                    return ControlAccessMiddleware.RefuseUnauthorized(context, _logger, path);
                }

                if (!string.Equals(context.Request.Path.Value, WellKnownPaths.Metrics, StringComparison.Ordinal))
                {
                    context.Request.Path = WellKnownPaths.Metrics;
                }
            }

            else if (_metrics.IsMetricsEndpoint(context))
            {
                return NotFound(context);
            }

            return _next(context);
        }

        context.Response.Headers.CacheControl = "no-store";
        var sent = context.Request.Path;
        if (string.Equals(sent.Value, path, StringComparison.Ordinal))
        {
            return _control(context);
        }

        return AnswerCanonicalAsync(context, sent, path);
    }

    /// <summary>A 404 answered here: <c>/metrics</c> off the metrics endpoint, or anything but a scrape on it.</summary>
    private static Task NotFound(HttpContext context)
    {
        context.Response.StatusCode = StatusCodes.Status404NotFound;
        context.Response.Headers.CacheControl = "no-store";
        return Task.CompletedTask;
    }

    /// <summary>
    /// Routing matches the canonical form (case aside, which routing ignores); the path as sent is put back after the
    /// answer, for the access log's <c>{path}</c>.
    /// </summary>
    private async Task AnswerCanonicalAsync(HttpContext context, PathString sent, string canonical)
    {
        context.Request.Path = canonical;
        try
        {
            await _control(context);
        }
        finally
        {
            context.Request.Path = sent;
        }
    }
}
