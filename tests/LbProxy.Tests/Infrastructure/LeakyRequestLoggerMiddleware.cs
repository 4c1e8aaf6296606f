using System.Collections.Concurrent;
using Microsoft.AspNetCore.Http;

namespace LbProxy.Tests.Infrastructure;

/// <summary>
/// A middleware that builds its logger inside the request: the mistake <see cref="LeakyRequestLogger"/>
/// leaks through. The loggers are kept (as a registry to flush at shutdown would keep them), so their
/// timers live on; <see cref="Dispose"/> ends them when the test is over, which such a bug never does.
/// </summary>
internal sealed class LeakyRequestLoggerMiddleware(RequestDelegate next) : IDisposable
{
    private readonly ConcurrentBag<LeakyRequestLogger> _loggers = [];
    private volatile bool _armed;

    public int Created => _loggers.Count;

    public async Task InvokeAsync(HttpContext context)
    {
        if (!_armed)
        {
            await next(context);
            return;
        }

        var logger = new LeakyRequestLogger(); // the bug: one logger, and one timer, per request
        _loggers.Add(logger);
        await next(context);
        logger.Log($"{context.Request.Method} {context.Request.Path} {context.Response.StatusCode}");
    }

    /// <summary>From now on, leak: the warm-up and the baseline run without the bug.</summary>
    public void Arm() => _armed = true;

    public void Dispose()
    {
        foreach (var logger in _loggers)
        {
            logger.Dispose();
        }
    }
}
