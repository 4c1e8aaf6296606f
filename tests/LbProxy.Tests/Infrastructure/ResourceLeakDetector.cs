namespace LbProxy.Tests.Infrastructure;

/// <summary>
/// A leak of per-request background work shows as active timers (<see cref="Timer.ActiveCount"/>) and
/// thread-pool threads that do not come back down once traffic stops. Measures a baseline at idle, then polls, with a bound, until
/// both are back within a tolerance of it.
/// </summary>
/// <remarks>
/// Tolerances. Timers: a few legitimate timers exist per connection pool and per handler, and how many
/// connections a burst opens varies; <see cref="TimerTolerance"/> absorbs that, while a per-request leak adds
/// one timer per request, thousands here. Threads: the pool may inject threads during a burst and retires
/// them after about 20 s idle, so the bound is longer than that, and <see cref="ThreadTolerance"/> allows
/// the pool's own variance (a thread or two parked longer than its peers). Before each sample the GC runs
/// with finalizers, so that timers that are already garbage (not leaked: nothing holds them) are not counted.
/// </remarks>
internal static class ResourceLeakDetector
{
    public const int TimerTolerance = 10;
    public const int ThreadTolerance = 4;
    public static readonly TimeSpan DefaultBound = TimeSpan.FromSeconds(45);
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(250);

    public static ResourceSample Sample()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        return new ResourceSample(Timer.ActiveCount, ThreadPool.ThreadCount);
    }

    /// <summary>The idle baseline: the lowest counts seen over a few polls once traffic has stopped.</summary>
    public static async Task<ResourceSample> MeasureBaselineAsync(int polls = 8)
    {
        var best = Sample();
        for (var i = 1; i < polls; i++)
        {
            // A sampling window, not a wait for a state: the baseline is the minimum over it.
            await Task.Delay(PollInterval);
            var next = Sample();
            best = new ResourceSample(Math.Min(best.Timers, next.Timers), Math.Min(best.Threads, next.Threads));
        }

        return best;
    }

    /// <summary>
    /// Polls until timers and threads are back within tolerance of <paramref name="baseline"/>, or the bound passes;
    /// a report, not a failure, either way: one test expects it to find a leak.
    /// </summary>
    public static async Task<LeakReport> WaitForBaselineAsync(ResourceSample baseline, TimeSpan? bound = null)
    {
        var (last, returned) = await Poll.TryUntilAsync(
            () => Task.FromResult(Sample()),
            sample => sample.Timers <= baseline.Timers + TimerTolerance && sample.Threads <= baseline.Threads + ThreadTolerance,
            bound ?? DefaultBound,
            PollInterval);
        return new LeakReport(baseline, last, returned, last.Timers - baseline.Timers, last.Threads - baseline.Threads);
    }
}
