using LbProxy.Edge;

namespace LbProxy.AccessLog;

/// <summary>
/// One line per request, decided when the request ends. Built once with the pipeline: the template, the
/// filter and the writer are shared by every request, and the per-request work is a timestamp, the filter's
/// decision and the formatting of the line into a pooled UTF-8 buffer. The line itself is the
/// <see cref="AccessLogRecorder"/>'s, which writes refused requests' lines too; this measures the request around it.
/// </summary>
internal sealed partial class AccessLogMiddleware(
    RequestDelegate next,
    AccessLogRecorder recorder,
    TimeProvider time,
    ILogger<AccessLogMiddleware> logger)
{
    public Task Invoke(HttpContext context)
    {
        if (recorder.Begin() is not { } settings)
        {
            return next(context);
        }

        var start = time.GetTimestamp();
        // Kestrel may still refuse this request (a body that fails to read): this line is the one written for it.
        context.Features.Set<IAccessLogSeenFeature>(AccessLogSeen.Instance);
        var body = settings.Template.UsesBytes ? ResponseBodyCounter.Begin(context) : null;

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

    private async Task AwaitThenCompleteAsync(Task task, HttpContext context, AccessLogSettings settings, long start, ResponseBodyCounter? body)
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

    private void Complete(HttpContext context, AccessLogSettings settings, long start, ResponseBodyCounter? body, bool failed)
    {
        var duration = time.GetElapsedTime(start);
        var bytes = body?.Bytes ?? 0;
        body?.End(context);

        // An exception before the response started becomes the server's 500: log what the client gets.
        var status = failed && !context.Response.HasStarted ? StatusCodes.Status500InternalServerError : context.Response.StatusCode;
        var outcome = recorder.Record(context, settings, status, duration, bytes);
        if (outcome != AccessLogOutcome.Written)
        {
            LogSkipped(logger, outcome, context.Request.Path.Value, status);
        }
    }

    /// <summary>At Debug: which rule skipped a line, with the path as the filter saw it.</summary>
    private static void LogSkipped(ILogger logger, AccessLogOutcome outcome, string? rawPath, int statusCode)
    {
        if (logger.IsEnabled(LogLevel.Debug))
        {
            var path = PathNormalizer.Normalize(rawPath);
            LogLineSkipped(logger, outcome, path, statusCode);
        }
    }

    [LoggerMessage(EventId = LogEvents.AccessLogLineSkipped, Level = LogLevel.Debug, Message = "Access-log line {Outcome}: {Path} {StatusCode}")]
    private static partial void LogLineSkipped(ILogger logger, AccessLogOutcome outcome, string path, int statusCode);
}
