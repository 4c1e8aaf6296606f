namespace LbProxy.Diagnostics;

/// <summary>Thread-pool threads, work items waiting, and work items done since start.</summary>
internal sealed record ThreadPoolSnapshot(int Threads, long PendingWorkItems, long CompletedWorkItems);
