namespace LbProxy.Configuration;

/// <summary>What the running config is and how its last reloads went, as status and metrics show it.</summary>
internal sealed record ConfigStatus(
    string Path,
    long Generation,
    string Hash,
    DateTimeOffset AppliedAt,
    bool LastReloadSucceeded,
    string? LastError,
    DateTimeOffset? LastErrorAt,
    long ReloadsApplied,
    long ReloadsRejected,
    long ReloadsUnchanged);
