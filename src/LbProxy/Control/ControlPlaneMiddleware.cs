using System.Collections.Frozen;
using LbProxy.Edge;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;

namespace LbProxy.Control;

/// <summary>
/// The control-plane split, before routing: a request whose path is under the control prefix in any
/// spelling (by <see cref="PathNormalizer"/>) is answered here and never goes further, so no YARP route,
/// however it is written, can forward it to a backend. Everything else passes on untouched.
/// </summary>
internal sealed partial class ControlPlaneMiddleware
{
    private readonly RequestDelegate _next;
    private readonly string _prefix;
    private readonly bool _metricsRequireToken;
    private readonly FrozenDictionary<string, ControlEndpoint>.AlternateLookup<ReadOnlySpan<char>> _endpoints;
    private readonly ControlAccess _access;
    private readonly ILogger<ControlPlaneMiddleware> _logger;

    public ControlPlaneMiddleware(
        RequestDelegate next,
        IOptions<ControlOptions> options,
        ControlPrefix prefix,
        ControlEndpointTable table,
        ControlAccess access,
        ILogger<ControlPlaneMiddleware> logger)
    {
        _next = next;
        _prefix = prefix.Value;
        _metricsRequireToken = options.Value.MetricsRequireToken;
        _endpoints = table.Endpoints.ToFrozenDictionary(static e => e.Key, static e => e.Value, StringComparer.OrdinalIgnoreCase)
            .GetAlternateLookup<ReadOnlySpan<char>>();
        _access = access;
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
                if (_metricsRequireToken && !_access.IsAllowed(context))
                {
                    return RefuseUnauthorized(context, path);
                }

                if (!string.Equals(context.Request.Path.Value, WellKnownPaths.Metrics, StringComparison.Ordinal))
                {
                    context.Request.Path = WellKnownPaths.Metrics;
                }
            }

            return _next(context);
        }

        var response = context.Response;
        response.Headers.CacheControl = "no-store";
        if (!_endpoints.TryGetValue(PathNormalizer.Below(path, _prefix), out var endpoint))
        {
            LogRefused(_logger, path, StatusCodes.Status404NotFound);
            response.StatusCode = StatusCodes.Status404NotFound;
            return response.WriteAsync("unknown control endpoint\n");
        }

        if (!endpoint.Accepts(context.Request.Method))
        {
            LogRefused(_logger, path, StatusCodes.Status405MethodNotAllowed);
            response.StatusCode = StatusCodes.Status405MethodNotAllowed;
            response.Headers.Allow = endpoint.Allow;
            return Task.CompletedTask;
        }

        if (endpoint.RequiresToken && !_access.IsAllowed(context))
        {
            return RefuseUnauthorized(context, path);
        }

        LogAnswered(_logger, endpoint.Name, context.Request.Method);
        return endpoint.Handler(context);
    }

    private Task RefuseUnauthorized(HttpContext context, string path)
    {
        // No detail: neither whether a token is configured nor what was wrong with the one sent.
        LogRefused(_logger, path, StatusCodes.Status401Unauthorized);
        context.Response.StatusCode = StatusCodes.Status401Unauthorized;
        context.Response.Headers[HeaderNames.WWWAuthenticate] = "Bearer";
        return Task.CompletedTask;
    }

    [LoggerMessage(EventId = LogEvents.ControlAnswered, Level = LogLevel.Debug, Message = "Control endpoint {Endpoint}: {Method}")]
    private static partial void LogAnswered(ILogger logger, string endpoint, string method);

    [LoggerMessage(EventId = LogEvents.ControlRefused, Level = LogLevel.Debug, Message = "Control request {Path} refused with {StatusCode}")]
    private static partial void LogRefused(ILogger logger, string path, int statusCode);
}
