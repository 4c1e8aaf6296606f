using LbProxy.Edge;
using Microsoft.AspNetCore.Http.Features;

namespace LbProxy.AccessLog;

/// <summary>
/// One line per request, decided when the request ends. Built once with the pipeline: the template, the
/// filter and the writer are shared by every request, and the per-request work is a timestamp, the filter's
/// decision and the formatting of the line into a pooled UTF-8 buffer.
/// </summary>
internal sealed partial class AccessLogMiddleware(
    RequestDelegate next,
    AccessLogPolicy policy,
    AccessLogWriter writer,
    AccessLogCounters counters,
    TimeProvider time,
    ILogger<AccessLogMiddleware> logger)
{
    public Task Invoke(HttpContext context)
    {
        var settings = policy.Current;
        if (!settings.Enabled)
        {
            counters.Add(AccessLogOutcome.SkippedDisabled);
            return next(context);
        }

        var start = time.GetTimestamp();
        // Kestrel may still refuse this request (a body that fails to read): this line is the one written for it.
        context.Features.Set<IAccessLogSeenFeature>(AccessLogSeen.Instance);
        CountingResponseBodyFeature? body = null;
        if (settings.Template.UsesBytes && context.Features.Get<IHttpResponseBodyFeature>() is { } serverBody)
        {
            body = new CountingResponseBodyFeature(serverBody);
            context.Features.Set<IHttpResponseBodyFeature>(body);
        }

        Task task;
        try
        {
            task = next(context);
        }
        catch (Exception)
        {
            Complete(context, settings, start, body, failed: true);
            throw;
        }

        if (!task.IsCompletedSuccessfully)
        {
            return AwaitThenCompleteAsync(task, context, settings, start, body);
        }

        Complete(context, settings, start, body, failed: false);
        return Task.CompletedTask;
    }

    private async Task AwaitThenCompleteAsync(Task task, HttpContext context, AccessLogSettings settings, long start, CountingResponseBodyFeature? body)
    {
        try
        {
            await task;
        }
        catch (Exception)
        {
            Complete(context, settings, start, body, failed: true);
            throw;
        }

        Complete(context, settings, start, body, failed: false);
    }

    private void Complete(HttpContext context, AccessLogSettings settings, long start, CountingResponseBodyFeature? body, bool failed)
    {
        var duration = time.GetElapsedTime(start);
        if (body is not null)
        {
            context.Features.Set(body.Inner);
        }

        // An exception before the response started becomes the server's 500: log what the client gets.
        var status = failed && !context.Response.HasStarted ? StatusCodes.Status500InternalServerError : context.Response.StatusCode;
        var path = PathNormalizer.Normalize(context.Request.Path.Value);
        var outcome = settings.Filter.Evaluate(path, status, duration);
        if (outcome != AccessLogOutcome.Written)
        {
            counters.Add(outcome);
            LogSkipped(logger, outcome, path, status);
            return;
        }

        var now = time.GetUtcNow();
        var at = settings.Utc ? now.UtcDateTime : TimeZoneInfo.ConvertTime(now, time.LocalTimeZone).DateTime;
        writer.Enqueue(settings.Template.FormatLine(context, new AccessLogMeasurement(at, status, duration, body?.Bytes ?? 0)));
    }

    [LoggerMessage(EventId = LogEvents.AccessLogLineSkipped, Level = LogLevel.Debug, Message = "Access-log line {Outcome}: {Path} {StatusCode}")]
    private static partial void LogSkipped(ILogger logger, AccessLogOutcome outcome, string path, int statusCode);
}
