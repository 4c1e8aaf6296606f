namespace LbProxy.Tests.Infrastructure;

/// <summary>
/// What a leak of background work would raise, for leak tests: active timers, thread-pool threads, and the
/// process's inotify instances (one per FileSystemWatcher on Linux).
/// </summary>
internal sealed record ResourceCounts(long Timers, int Threads, int InotifyInstances)
{
    public static ResourceCounts Take() => new(Timer.ActiveCount, ThreadPool.ThreadCount, CountInotifyInstances());

    /// <summary>
    /// Counts again until they are back within reach of the baseline, or the bound passes: the thread pool
    /// retires idle threads and timers fire their last tick on their own schedule.
    /// </summary>
    public static async Task<ResourceCounts> SettleAsync(ResourceCounts baseline, TimeSpan bound)
    {
        var settled = await Poll.TryUntilAsync(
            () =>
            {
                // Timers that are garbage already (nothing holds them) are not left behind: collect them first.
                GC.Collect();
                GC.WaitForPendingFinalizers();
                return Task.FromResult(Take());
            },
            now => now.Timers <= baseline.Timers + 5 && now.Threads <= baseline.Threads + 4 && now.InotifyInstances == baseline.InotifyInstances,
            bound,
            TimeSpan.FromMilliseconds(100));
        return settled.Last;
    }

    private static int CountInotifyInstances()
    {
        var count = 0;
        foreach (var fd in new DirectoryInfo("/proc/self/fd").EnumerateFileSystemInfos())
        {
            try
            {
                if (fd.LinkTarget?.Contains("inotify", StringComparison.Ordinal) == true)
                {
                    count++;
                }
            }
            catch (IOException)
            {
                // the descriptor was closed while we looked
            }
        }

        return count;
    }
}
