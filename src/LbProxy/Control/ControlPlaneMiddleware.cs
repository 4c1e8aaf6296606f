using System.Collections.Frozen;
using LbProxy.Edge;
using Microsoft.AspNetCore.Http.Extensions;
using Microsoft.AspNetCore.Http.Features;
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
    private const string TokenParameter = "token";

    private const string LivePagePolicy =
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'";

    private readonly ILogger<ControlPlaneMiddleware> _logger;
    private readonly string _uiPath;
    private readonly string _unauthorizedPageText;

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
        _uiPath = _prefix + "/ui";
        _unauthorizedPageText = $"401: open {_uiPath}?token=... once; the page then keeps a cookie\n";
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

        if (endpoint.Access == ControlEndpointAccess.TokenOrUiCookie)
        {
            return LivePageRequest(context, path, endpoint);
        }

        if (endpoint.Access == ControlEndpointAccess.Token && !_access.IsAllowed(context))
        {
            return RefuseUnauthorized(context, path);
        }

        LogAnswered(_logger, endpoint.Name, context.Request.Method);
        return endpoint.Handler(context);
    }

    /// <summary>
    /// The live page's endpoints: strict headers on every answer, the token given once as <c>?token=</c> exchanged
    /// for the cookie and a redirect to the same path without it (out of the address bar and the history), then
    /// the token rule or the cookie.
    /// </summary>
    private Task LivePageRequest(HttpContext context, string path, ControlEndpoint endpoint)
    {
        var response = context.Response;
        var headers = response.Headers;
        headers.ContentSecurityPolicy = LivePagePolicy;
        headers.XContentTypeOptions = "nosniff";
        headers["Referrer-Policy"] = "no-referrer";
        headers["Cross-Origin-Opener-Policy"] = "same-origin";
        headers["Cross-Origin-Resource-Policy"] = "same-origin";
        if (context.Request.Query.TryGetValue(TokenParameter, out var token))
        {
            RedactToken(context);
            if (_access.IsToken(token.ToString()) || (_access.UiCookieValue is null && _access.IsAllowed(context)))
            {
                LogAnswered(_logger, endpoint.Name, context.Request.Method);
                if (_access.UiCookieValue is { } cookie)
                {
                    response.Cookies.Append(ControlAccess.UiCookieName, cookie, new CookieOptions
                    {
                        Path = _uiPath,
                        HttpOnly = true,
                        SameSite = Microsoft.AspNetCore.Http.SameSiteMode.Strict,
                        Secure = context.Request.IsHttps,
                        IsEssential = true,
                    });
                }

                response.StatusCode = StatusCodes.Status303SeeOther;
                headers.Location = path;
                return Task.CompletedTask;
            }

            return RefuseUnauthorizedPage(context, path);
        }

        if (!_access.IsAllowedForUi(context))
        {
            return RefuseUnauthorizedPage(context, path);
        }

        LogAnswered(_logger, endpoint.Name, context.Request.Method);
        return endpoint.Handler(context);
    }

    /// <summary>
    /// The token must never reach the access log, even with control paths logged: the line is written from the
    /// request's target after the answer, so the target is rewritten now.
    /// </summary>
    private static void RedactToken(HttpContext context)
    {
        var request = context.Request;
        var query = new QueryBuilder();
        foreach (var (key, values) in request.Query)
        {
            foreach (var value in values)
            {
                query.Add(key, key == TokenParameter ? "redacted" : value ?? "");
            }
        }

        request.QueryString = query.ToQueryString();
        if (context.Features.Get<IHttpRequestFeature>() is { } feature)
        {
            feature.RawTarget = request.PathBase.Value + request.Path.Value + request.QueryString.Value;
        }
    }

    private Task RefuseUnauthorizedPage(HttpContext context, string path)
    {
        // A short body: a browser shows an error page of its own for an empty 401. Still no detail.
        LogRefused(_logger, path, StatusCodes.Status401Unauthorized);
        context.Response.StatusCode = StatusCodes.Status401Unauthorized;
        context.Response.ContentType = "text/plain; charset=utf-8";
        return context.Response.WriteAsync(_unauthorizedPageText);
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
