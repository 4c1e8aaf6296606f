using LbProxy.Control;

namespace LbProxy.Diagnostics;

/// <summary>
/// The .NET counterparts of what gave the story's leak away in Go (goroutine counts, CPU), read at one moment:
/// active timers, thread-pool threads and queue, GC, memory and CPU time; with the sampler's newest sample
/// (CPU, requests, latency, connections) and the leak watchdog's state.
/// </summary>
internal sealed record RuntimeSnapshot(
    DateTimeOffset At,
    double UptimeSeconds,
    long ActiveTimers,
    ThreadPoolSnapshot ThreadPool,
    GcSnapshot Gc,
    ProcessSnapshot Process,
    LatestSample? Latest,
    WatchdogStatus Watchdog)
{
    public static RuntimeSnapshot Capture(TimeProvider time, ProcessUptime uptime, LivePage page)
    {
        var memory = GC.GetGCMemoryInfo();
        var generations = memory.GenerationInfo;
        var cpu = Environment.CpuUsage;
        return new RuntimeSnapshot(
            time.GetUtcNow(),
            uptime.Elapsed.TotalSeconds,
            Timer.ActiveCount,
            new ThreadPoolSnapshot(
                System.Threading.ThreadPool.ThreadCount,
                System.Threading.ThreadPool.PendingWorkItemCount,
                System.Threading.ThreadPool.CompletedWorkItemCount),
            new GcSnapshot(
                GC.CollectionCount(0),
                GC.CollectionCount(1),
                GC.CollectionCount(2),
                memory.HeapSizeBytes,
                generations.Length > 0 ? generations[0].SizeAfterBytes : 0,
                generations.Length > 1 ? generations[1].SizeAfterBytes : 0,
                generations.Length > 2 ? generations[2].SizeAfterBytes : 0,
                generations.Length > 3 ? generations[3].SizeAfterBytes : 0,
                generations.Length > 4 ? generations[4].SizeAfterBytes : 0,
                memory.FragmentedBytes,
                memory.TotalCommittedBytes,
                GC.GetTotalAllocatedBytes(precise: false),
                memory.PauseTimePercentage),
            new ProcessSnapshot(
                Environment.WorkingSet,
                cpu.TotalTime.TotalSeconds,
                cpu.UserTime.TotalSeconds,
                cpu.PrivilegedTime.TotalSeconds,
                Environment.ProcessorCount),
            page.Latest(),
            page.Watchdog);
    }
}

/// <summary>Thread-pool threads, work items waiting, and work items done since start.</summary>
internal sealed record ThreadPoolSnapshot(int Threads, long PendingWorkItems, long CompletedWorkItems);

/// <summary>Collections per generation and heap sizes (after the last collection) of the managed heap.</summary>
internal sealed record GcSnapshot(
    int Gen0Collections,
    int Gen1Collections,
    int Gen2Collections,
    long HeapSizeBytes,
    long Gen0SizeBytes,
    long Gen1SizeBytes,
    long Gen2SizeBytes,
    long LargeObjectHeapSizeBytes,
    long PinnedObjectHeapSizeBytes,
    long FragmentedBytes,
    long CommittedBytes,
    long TotalAllocatedBytes,
    double PauseTimePercentage);

/// <summary>Memory and CPU time of the process as the OS sees it.</summary>
internal sealed record ProcessSnapshot(
    long WorkingSetBytes,
    double CpuTimeSeconds,
    double UserCpuTimeSeconds,
    double SystemCpuTimeSeconds,
    int ProcessorCount);
