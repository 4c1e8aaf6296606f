namespace LbProxy.AccessLog;

/// <summary>The access log as <c>/_lb/status</c> shows it: lines written, dropped, waiting, and skipped by rule.</summary>
internal sealed record AccessLogStatus(
    bool Enabled,
    string Template,
    IReadOnlyList<string> SkippedPrefixes,
    long Written,
    long Dropped,
    int Pending,
    IReadOnlyDictionary<string, long> Skipped);
