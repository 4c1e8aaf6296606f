using LbProxy.Edge;

namespace LbProxy.AccessLog;

/// <summary>
/// The one place a request's access-log line is decided and written, for requests the pipeline served
/// (<see cref="AccessLogMiddleware"/>) and requests Kestrel refused before it (<see cref="RefusedRequestLog"/>) alike:
/// the settings applied, the filter's decision with its count, the timestamp, the formatting into a pooled buffer and
/// the hand-over to the <see cref="AccessLogWriter"/>. Two callers, one line: a refused request's line cannot drift
/// from a proxied one's.
/// </summary>
internal sealed class AccessLogRecorder(AppliedAccessLogSettings applied, AccessLogWriter writer, AccessLogCounters counters, TimeProvider time)
{
    /// <summary>
    /// The settings a request's line will be decided by, read once when the request starts; null (and counted as
    /// skipped) when the access log is off.
    /// </summary>
    public AccessLogSettings? Begin()
    {
        var settings = applied.Current;
        if (!settings.Enabled)
        {
            counters.Add(AccessLogOutcome.SkippedDisabled);
            return null;
        }

        return settings;
    }

    /// <summary>
    /// Writes the request's line, or counts why not: <see cref="AccessLogOutcome.Written"/> when it was handed to the
    /// writer (which counts it once written, or as dropped), else the filter rule that skipped it.
    /// </summary>
    public AccessLogOutcome Record(HttpContext context, AccessLogSettings settings, int status, TimeSpan duration, long bytes)
    {
        var path = PathNormalizer.Normalize(context.Request.Path.Value);
        var outcome = settings.Filter.Evaluate(path, status, duration);
        if (outcome != AccessLogOutcome.Written)
        {
            counters.Add(outcome);
            return outcome;
        }

        var now = time.GetUtcNow();
        var at = settings.Utc ? now.UtcDateTime : TimeZoneInfo.ConvertTime(now, time.LocalTimeZone).DateTime;
        writer.Enqueue(settings.Template.FormatLine(context, new AccessLogMeasurement(at, status, duration, bytes)));
        return outcome;
    }
}
