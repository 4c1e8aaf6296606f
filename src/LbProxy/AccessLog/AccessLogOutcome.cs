namespace LbProxy.AccessLog;

/// <summary>What became of one request's line: written, dropped (buffer full), or skipped by which rule.</summary>
internal enum AccessLogOutcome
{
    Written,
    Dropped,
    SkippedPath,
    SkippedStatus,
    SkippedDuration,
    SkippedSample,
    SkippedDisabled,
}
