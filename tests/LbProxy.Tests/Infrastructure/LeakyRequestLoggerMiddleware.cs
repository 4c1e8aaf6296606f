using Microsoft.AspNetCore.Http;

namespace LbProxy.Tests.Infrastructure;

/// <summary>
/// A middleware that builds its logger inside the request, as the story's Go code did. <see cref="StopAll"/>
/// ends the leaked loops when the test is over, which the real bug never did.
/// </summary>
internal sealed class LeakyRequestLoggerMiddleware(RequestDelegate next) : IDisposable
{
    private readonly CancellationTokenSource _stop = new();

    private volatile bool _armed;

    public async Task InvokeAsync(HttpContext context)
    {
        if (!_armed)
        {
            await next(context);
            return;
        }

        var logger = new LeakyRequestLogger(_stop.Token); // the bug: one logger, and one flush loop, per request
        await next(context);
        logger.Log($"{context.Request.Method} {context.Request.Path} {context.Response.StatusCode}");
    }

    /// <summary>From now on, leak: the warm-up and the baseline run without the bug.</summary>
    public void Arm() => _armed = true;

    public void StopAll() => _stop.Cancel();

    public void Dispose() => _stop.Dispose();
}
