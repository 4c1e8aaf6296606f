using System.Globalization;
using LbProxy.Edge;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;

namespace LbProxy.Tls;

/// <summary>
/// Plain-HTTP requests on an endpoint named in <c>LbProxy:Tls:RedirectHttp:Endpoints</c> get a redirect to HTTPS and
/// are never forwarded: 301 for GET and HEAD (what browsers and crawlers expect, cached), 308 for the rest (the method
/// and body are kept, where a 301 lets clients turn a POST into a GET). The same host without its port, or with
/// <c>HttpsPort</c> when it is not 443, and the request target exactly as sent.
/// </summary>
internal sealed class HttpsRedirectMiddleware(RequestDelegate next, IOptionsMonitor<TlsOptions> options)
{
    public Task Invoke(HttpContext context)
    {
        var redirect = options.CurrentValue.RedirectHttp;
        if (context.Request.IsHttps
            || redirect.Endpoints.Count == 0
            || EndpointNames.Of(context) is not { } endpoint
            || !redirect.Endpoints.Contains(endpoint, StringComparer.OrdinalIgnoreCase)
            || string.Equals(context.Request.Path.Value, WellKnownPaths.Metrics, StringComparison.Ordinal))   // spelled so by the control split
        {
            return next(context);
        }

        var response = context.Response;
        var host = context.Request.Host;
        if (string.IsNullOrEmpty(host.Host))
        {
            // HTTP/1.0 without Host: there is no name to redirect to.
            response.StatusCode = StatusCodes.Status400BadRequest;
            return Task.CompletedTask;
        }

        var port = redirect.HttpsPort == 443 ? "" : ":" + redirect.HttpsPort.ToString(CultureInfo.InvariantCulture);
        response.StatusCode = HttpMethods.IsGet(context.Request.Method) || HttpMethods.IsHead(context.Request.Method)
            ? StatusCodes.Status301MovedPermanently
            : StatusCodes.Status308PermanentRedirect;
        response.Headers.Location = $"https://{host.Host}{port}{Target(context)}";
        response.ContentLength = 0;
        return Task.CompletedTask;
    }

    /// <summary>The target as the client sent it (origin-form), else the path and query (absolute-form, <c>*</c>).</summary>
    private static string Target(HttpContext context)
    {
        var raw = context.Features.Get<IHttpRequestFeature>()?.RawTarget;
        if (raw is { Length: > 0 } && raw[0] == '/')
        {
            return raw;
        }

        var request = context.Request;
        var path = request.PathBase.Add(request.Path).ToUriComponent();
        return (path.Length == 0 ? "/" : path) + request.QueryString.ToUriComponent();
    }
}
