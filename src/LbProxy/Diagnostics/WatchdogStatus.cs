namespace LbProxy.Diagnostics;

/// <summary>The watchdog's state, as <c>/_lb/status</c>, <c>/_lb/runtime</c> and the live page show it.</summary>
internal sealed record WatchdogStatus(bool Enabled, bool WarmingUp, IReadOnlyList<WatchdogResourceStatus> Resources);

/// <summary>
/// One resource: <c>ok</c>, <c>pending</c> (the condition holds, not yet for HoldFor) or <c>suspect</c>, with the
/// figures that convinced the watchdog while it is a suspect, and for timers (and the thread-pool queue) the owners
/// that grew since the baseline census (<see cref="LeakWatchdog"/>'s culprits).
/// </summary>
internal sealed record WatchdogResourceStatus(
    string Resource,
    string State,
    string? Criterion,
    string? Reason,
    double Current,
    double? Baseline,
    double? Rise,
    double? SlopePer1000Requests,
    double? SlopePerMinute,
    double? T,
    double? WindowSeconds,
    long? RequestsInWindow,
    DateTimeOffset? Since,
    int Episodes,
    IReadOnlyList<CensusGrowth>? Culprits = null);
