using Microsoft.Extensions.Options;

namespace LbProxy.Tls;

/// <summary>
/// <c>Strict-Transport-Security</c> on every HTTPS response when <c>LbProxy:Tls:Hsts:MaxAge</c> is set, set as the
/// response starts so that it replaces an origin's own and reaches control-plane answers and 503s too; never on plain
/// HTTP, where browsers must ignore it (RFC 6797 §8.1) and where it would only mislead.
/// </summary>
internal sealed class HstsMiddleware
{
    private readonly RequestDelegate _next;
    private readonly IOptionsMonitor<TlsOptions> _options;
    private readonly Func<object, Task> _apply;
    private (HstsOptions Options, string? Value) _current;

    public HstsMiddleware(RequestDelegate next, IOptionsMonitor<TlsOptions> options)
    {
        _next = next;
        _options = options;
        _apply = Apply;
        _current = (options.CurrentValue.Hsts, options.CurrentValue.Hsts.HeaderValue());
    }

    public Task Invoke(HttpContext context)
    {
        if (context.Request.IsHttps && Value() is not null)
        {
            context.Response.OnStarting(_apply, context);
        }

        return _next(context);
    }

    /// <summary>The header's value under the options in force; formatted once per options instance.</summary>
    private string? Value()
    {
        var hsts = _options.CurrentValue.Hsts;
        var current = _current;
        if (!ReferenceEquals(current.Options, hsts))
        {
            current = (hsts, hsts.HeaderValue());
            _current = current;
        }

        return current.Value;
    }

    private Task Apply(object state)
    {
        if (Value() is { } value)
        {
            ((HttpContext)state).Response.Headers.StrictTransportSecurity = value;
        }

        return Task.CompletedTask;
    }
}
