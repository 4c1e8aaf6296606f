namespace LbProxy.Diagnostics;

/// <summary>
/// What the leak watchdog watches. The names (<see cref="WatchedResources.Name"/>) are a contract: the
/// <c>resource</c> tag of <c>lbproxy_watchdog_suspect</c>, which alert rules match on.
/// </summary>
internal enum WatchedResource
{
    Timers,
    ThreadPoolThreads,
    ThreadPoolQueue,
    Connections,
    WorkingSet,
    CpuPerRequest,
    AllocPerRequest,
}

internal static class WatchedResources
{
    public const int Count = 7;

    private static readonly string[] Names = ["timers", "threadpool_threads", "threadpool_queue", "connections", "working_set", "cpu_per_request", "alloc_per_request"];

    public static string Name(WatchedResource resource) => Names[(int)resource];

    /// <summary>
    /// How long the resource may outlive the load that made it, in seconds: a timer of a request (30 s), an idle
    /// pool thread (the pool retires them after 20 s), a queued item, a kept-alive client connection (the edge
    /// 75 s keep-alive, plus upstream pool idling), the working set the GC keeps after a burst.
    /// </summary>
    public static double LagSeconds(WatchedResource resource) => resource switch
    {
        WatchedResource.Timers => 30,
        WatchedResource.ThreadPoolThreads => 60,
        WatchedResource.ThreadPoolQueue => 10,
        WatchedResource.Connections => 85,
        WatchedResource.WorkingSet => 300,
        _ => 10,
    };

    /// <summary>
    /// A cost per request (CPU microseconds, allocated bytes), averaged over the lag: a handler leaked into a static
    /// event that every request raises creates no timer, thread or connection, but each request costs more than the last.
    /// </summary>
    public static bool PerRequest(WatchedResource resource) => resource is WatchedResource.CpuPerRequest or WatchedResource.AllocPerRequest;

    /// <summary>Working set: the minimum over this many seconds, which removes the gen0 sawtooth.</summary>
    public static double FloorSeconds(WatchedResource resource) => resource == WatchedResource.WorkingSet ? 30 : 0;

    /// <summary>
    /// Judged from start-up, without waiting out the warm-up, when the slope is steep: a leak that came with a deploy
    /// starts with the process. Timers: their start-up transient is a few dozen (JIT, first connections, the
    /// hosting's own), far below a steep rise, while threads, connections, the queue and the working set all climb at
    /// start under load for reasons the model cannot see yet (thread injection, pools filling, the heap growing): not these.
    /// A cost per request is, from 10 s after its first figure (a healthy start's cost can rise at first: measured, from
    /// about 220 to 700 µs per request in the first 18 s at 250 requests/s), fitted on requests alone, and counted only
    /// when it doubled and is not levelling off (LeakWatchdog.Evaluate.cs).
    /// </summary>
    public static bool FromStart(WatchedResource resource) => resource is WatchedResource.Timers || PerRequest(resource);

    /// <summary>
    /// The runtime rarely gives memory back to the OS promptly: "back at idle" is not asked of the working set.
    /// A cost per request has no idle level, and is judged against requests only (at low traffic it is noise).
    /// </summary>
    public static bool IdleCheck(WatchedResource resource) => resource != WatchedResource.WorkingSet && !PerRequest(resource);
}
