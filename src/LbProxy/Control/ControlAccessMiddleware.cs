using LbProxy.Edge;
using Microsoft.AspNetCore.Http.Extensions;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Net.Http.Headers;

namespace LbProxy.Control;

/// <summary>
/// The access rule of the control branch, after its routing has chosen an endpoint: the endpoint's
/// <see cref="ControlAccessMetadata"/> says who may use it (the token when it says nothing). The live page's
/// endpoints get strict headers on every answer, and the token given once as <c>?token=</c> is exchanged for the
/// page's cookie and a redirect to the same path without it (out of the address bar and the history).
/// </summary>
internal sealed partial class ControlAccessMiddleware
{
    private const string TokenParameter = "token";

    private const string LivePagePolicy =
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'";

    private readonly RequestDelegate _next;
    private readonly ControlAccess _access;
    private readonly ILogger<ControlAccessMiddleware> _logger;
    private readonly string _prefix;
    private readonly string _uiPath;
    private readonly string _unauthorizedPageText;

    public ControlAccessMiddleware(RequestDelegate next, ControlAccess access, ControlPrefix prefix, ILogger<ControlAccessMiddleware> logger)
    {
        _next = next;
        _access = access;
        _logger = logger;
        _prefix = prefix.Value;
        _uiPath = _prefix + "/ui";
        _unauthorizedPageText = $"401: open {_uiPath}?token=... once; the page then keeps a cookie\n";
    }

    public Task Invoke(HttpContext context)
    {
        var endpoint = context.GetEndpoint();
        var path = context.Request.Path.Value ?? "";
        if (endpoint?.Metadata.GetMetadata<ControlAccessMetadata>() is not { } access)
        {
            // No endpoint: an unknown path below the prefix. An endpoint without the rule: routing's own answer for a
            // known path and another method (a 405 with Allow), which reveals nothing but the methods.
            if (endpoint is null)
            {
                LogRefused(_logger, path, StatusCodes.Status404NotFound);
                context.Response.StatusCode = StatusCodes.Status404NotFound;
                return context.Response.WriteAsync("unknown control endpoint\n");
            }

            LogRefused(_logger, path, StatusCodes.Status405MethodNotAllowed);
            return _next(context);
        }

        switch (access.Rule)
        {
            case ControlAccessRule.TokenOrPageCookie:
                return LivePageRequest(context, path);
            case ControlAccessRule.Token when !_access.IsAllowed(context):
                return RefuseUnauthorized(context, _logger, path);
            default:
                return Answer(context);
        }
    }

    private Task Answer(HttpContext context)
    {
        if (_logger.IsEnabled(LogLevel.Debug))
        {
            var name = PathNormalizer.Below(context.Request.Path.Value ?? "", _prefix).TrimStart('/').ToString();
            LogAnswered(_logger, name, context.Request.Method);
        }

        return _next(context);
    }

    private Task LivePageRequest(HttpContext context, string path)
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

                LogAnswered(_logger, "ui", context.Request.Method);
                response.StatusCode = StatusCodes.Status303SeeOther;
                headers.Location = path;
                return Task.CompletedTask;
            }

            return RefuseUnauthorizedPage(context, path);
        }

        return _access.IsAllowedForUi(context) ? Answer(context) : RefuseUnauthorizedPage(context, path);
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

    /// <summary>A 401 with no detail: neither whether a token is configured nor what was wrong with the one sent.</summary>
    public static Task RefuseUnauthorized(HttpContext context, ILogger logger, string path)
    {
        LogRefused(logger, path, StatusCodes.Status401Unauthorized);
        context.Response.StatusCode = StatusCodes.Status401Unauthorized;
        context.Response.Headers[HeaderNames.WWWAuthenticate] = "Bearer";
        return Task.CompletedTask;
    }

    [LoggerMessage(EventId = LogEvents.ControlAnswered, Level = LogLevel.Debug, Message = "Control endpoint {Endpoint}: {Method}")]
    private static partial void LogAnswered(ILogger logger, string endpoint, string method);

    [LoggerMessage(EventId = LogEvents.ControlRefused, Level = LogLevel.Debug, Message = "Control request {Path} refused with {StatusCode}")]
    private static partial void LogRefused(ILogger logger, string path, int statusCode);
}
