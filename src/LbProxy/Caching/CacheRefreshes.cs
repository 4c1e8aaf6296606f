namespace LbProxy.Caching;

/// <summary>
/// The background refreshes of stale-while-revalidate at the origin now, over every key, bounded by
/// <see cref="CacheOptions.MaxConcurrentRefreshes"/>; and what they run with: the application's services (a refresh
/// has no request of a client to take them from) and its stopping token (a refresh ends with the process).
/// </summary>
internal sealed class CacheRefreshes(IServiceProvider services, IHostApplicationLifetime lifetime)
{
    private int _inFlight;

    public IServiceProvider Services => services;

    public CancellationToken Stopping => lifetime.ApplicationStopping;

    /// <summary>Refreshes at the origin now.</summary>
    public int InFlight => Volatile.Read(ref _inFlight);

    /// <summary>Takes a slot when fewer than <paramref name="limit"/> are taken; the caller gives it back with <see cref="Exit"/>.</summary>
    public bool TryEnter(int limit)
    {
        var taken = Volatile.Read(ref _inFlight);
        while (taken < limit)
        {
            var seen = Interlocked.CompareExchange(ref _inFlight, taken + 1, taken);
            if (seen == taken)
            {
                return true;
            }

            taken = seen;
        }

        return false;
    }

    public void Exit() => Interlocked.Decrement(ref _inFlight);
}
