using System.Collections.Concurrent;
using System.Threading.RateLimiting;

namespace LbProxy.RateLimiting;

/// <summary>
/// The partitions of one policy: a limiter of <c>System.Threading.RateLimiting</c> per key, bounded in number.
/// <para>
/// <c>PartitionedRateLimiter.Create</c> is not used: it keeps every key it has seen until the key has been idle
/// for 10 s, so a flood of distinct client addresses grows it without bound. Here a policy holds at most
/// <c>MaxPartitions − 64</c> partitions of their own; a key that arrives while they are all taken shares one of
/// 64 partitions, chosen by the key's hash (randomized per process, so a client cannot pick whom it collides
/// with). Clients that already have a partition keep it through a flood; only newcomers during it share. The
/// limiters replenish on one timer (<see cref="TickInterval"/>, as <c>PartitionedRateLimiter</c> does) rather
/// than a timer each, and a partition idle (fully replenished, nothing held or queued) for
/// <see cref="IdleTimeout"/> goes: a fresh limiter is the same as an idle one, so dropping it loses nothing.
/// </para>
/// </summary>
internal sealed class RateLimitPartitions : IDisposable
{
    /// <summary>Shared partitions for keys that arrive while the policy's own partitions are all taken.</summary>
    public const int SharedPartitions = 64;

    /// <summary>How often partitions are replenished and idle ones looked for.</summary>
    public static readonly TimeSpan TickInterval = TimeSpan.FromMilliseconds(100);

    /// <summary>The idle time after which a partition goes, as <c>PartitionedRateLimiter.Create</c> uses.</summary>
    public static readonly TimeSpan IdleTimeout = TimeSpan.FromSeconds(10);

    private readonly ConcurrentDictionary<string, RateLimiter> _own = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, RateLimiter>.AlternateLookup<ReadOnlySpan<char>> _ownBySpan;
    private readonly RateLimiter?[] _shared = new RateLimiter?[SharedPartitions];
    private readonly Func<RateLimiter> _create;
    private readonly int _ownLimit;
    private readonly Lock _sharedLock = new();
    private int _ownCount;
    private int _sharedCount;
    private volatile bool _disposed;

    public RateLimitPartitions(int maxPartitions, Func<RateLimiter> create)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxPartitions, 2 * SharedPartitions);
        _ownLimit = maxPartitions - SharedPartitions;
        _create = create;
        _ownBySpan = _own.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    /// <summary>Live partitions: own and shared ones in use. Never more than <c>MaxPartitions</c>.</summary>
    public int Count => Volatile.Read(ref _ownCount) + Volatile.Read(ref _sharedCount);

    /// <summary>How many of the live partitions are shared ones (created at first use, then kept).</summary>
    public int SharedCount => Volatile.Read(ref _sharedCount);

    /// <summary>The limiter of <paramref name="key"/>; allocates only when the key has no partition yet.</summary>
    public RateLimiter Get(ReadOnlySpan<char> key)
    {
        if (_ownBySpan.TryGetValue(key, out var limiter))
        {
            return limiter;
        }

        // Reserve a place first, so that concurrent first requests can never take more than the bound.
        if (Interlocked.Increment(ref _ownCount) <= _ownLimit)
        {
            var created = _create();
            var actual = _own.GetOrAdd(key.ToString(), created);
            if (!ReferenceEquals(actual, created))
            {
                Interlocked.Decrement(ref _ownCount);
                created.Dispose();
            }

            return actual;
        }

        Interlocked.Decrement(ref _ownCount);
        var slot = (int)((uint)string.GetHashCode(key) % SharedPartitions);
        return Volatile.Read(ref _shared[slot]) ?? CreateShared(slot);
    }

    /// <summary>
    /// Replenishes every partition and drops own partitions idle for <paramref name="idleTimeout"/>. A dropped
    /// limiter is not disposed: a request that found it just before may still use it, and an idle limiter has no
    /// queue to fail.
    /// </summary>
    public void Tick(TimeSpan idleTimeout)
    {
        if (_disposed)
        {
            return;
        }

        foreach (var (key, limiter) in _own)
        {
            (limiter as ReplenishingRateLimiter)?.TryReplenish();
            if (limiter.IdleDuration is { } idle && idle >= idleTimeout && _own.TryRemove(KeyValuePair.Create(key, limiter)))
            {
                Interlocked.Decrement(ref _ownCount);
            }
        }

        foreach (var limiter in _shared)
        {
            (limiter as ReplenishingRateLimiter)?.TryReplenish();
        }
    }

    /// <summary>Disposes every limiter: requests queued in them are refused. A policy replaced by a reload ends so.</summary>
    public void Dispose()
    {
        _disposed = true;
        foreach (var limiter in _own.Values)
        {
            limiter.Dispose();
        }

        lock (_sharedLock)
        {
            foreach (var limiter in _shared)
            {
                limiter?.Dispose();
            }
        }
    }

    private RateLimiter CreateShared(int slot)
    {
        lock (_sharedLock)
        {
            if (_shared[slot] is { } existing)
            {
                return existing;
            }

            var created = _create();
            Volatile.Write(ref _shared[slot], created);
            Interlocked.Increment(ref _sharedCount);
            return created;
        }
    }
}
