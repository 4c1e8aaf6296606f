using System.Collections.Concurrent;
using Microsoft.Extensions.Options;

namespace LbProxy.Caching;

/// <summary>
/// The bounded store of responses in memory, evicting by SIEVE (Zhang et al., NSDI 2024): a hit only sets a bit,
/// without a lock or a list move, and the hand that walks from the oldest entry towards the newest evicts the first
/// one not hit since the hand last passed, clearing bits on its way. A scan of one-hit objects passes through
/// without pushing out the hot ones, as with LRU it would (bench/cache.py compares both on a Zipf trace).
/// The byte limit counts every entry's <see cref="CacheEntry.Charge"/> and the values entries share (once each, see
/// <see cref="SharedValues"/>), and is never exceeded: an entry is added only after enough others are out. Also the
/// table of origin requests in flight, for collapsed forwarding.
/// </summary>
internal sealed class HotSet
{
    private readonly ConcurrentDictionary<CacheKey, CacheEntry> _entries = new();
    private readonly ConcurrentDictionary<CacheKey, Flight> _flights = new();
    private readonly Lock _lock = new();
    private readonly SharedValues _shared = new();
    private CacheEntry? _newest;
    private CacheEntry? _oldest;
    private CacheEntry? _hand;
    private long _bytes;
    private long _limit;
    private long _evictions;

    public HotSet(IOptionsMonitor<CacheOptions> options)
        : this(options.CurrentValue.SizeLimitBytes)
    {
        options.OnChange(changed => Resize(changed.SizeLimitBytes));
    }

    public HotSet(long limit) => _limit = limit;

    public long Bytes => Interlocked.Read(ref _bytes);

    public long Limit => Interlocked.Read(ref _limit);

    public int Count => _entries.Count;

    public long Evictions => Interlocked.Read(ref _evictions);

    /// <summary>How many distinct values the entries share (tests).</summary>
    internal int SharedCount
    {
        get
        {
            lock (_lock)
            {
                return _shared.Count;
            }
        }
    }

    /// <summary>The entry for a key, marked as hit; lock-free.</summary>
    public CacheEntry? Get(in CacheKey key)
    {
        if (_entries.TryGetValue(key, out var entry))
        {
            entry.Visited = true;
            return entry;
        }

        return null;
    }

    /// <summary>
    /// Stores an entry in place of the key's current one, evicting others until it fits; false (and the entry's body
    /// released) when it cannot fit even in an empty hot set.
    /// </summary>
    public bool TryAdd(CacheEntry entry)
    {
        List<CacheEntry>? released = null;
        var added = false;
        lock (_lock)
        {
            // Alone in the hot set it takes at most its charge and all its shared values: then it fits once the
            // others are out.
            if (entry.Charge + entry.SharedBytes() <= _limit)
            {
                // Its shared values are taken first, so that those of the entry it replaces (a refresh has the same
                // ones) or of a victim stay in the table; the bytes of the new ones are counted as it is linked.
                var shared = entry.Share(_shared);
                if (_entries.TryGetValue(entry.Key, out var old))
                {
                    RemoveLocked(old, ref released);
                }

                while (_bytes + shared + entry.Charge > _limit && _oldest is not null)
                {
                    RemoveLocked(SelectVictimLocked(), ref released);
                    Interlocked.Increment(ref _evictions);
                }

                LinkLocked(entry, shared);
                _entries[entry.Key] = entry;
                added = true;
            }
        }

        ReleaseAll(released);
        if (!added)
        {
            entry.Body.Release();
        }

        return added;
    }

    /// <summary>Drops one entry if it is still the key's entry (a purge, or a refreshed one replaced).</summary>
    public bool Remove(CacheEntry entry)
    {
        List<CacheEntry>? released = null;
        lock (_lock)
        {
            if (!LinkedLocked(entry))
            {
                return false;
            }

            RemoveLocked(entry, ref released);
        }

        ReleaseAll(released);
        return true;
    }

    /// <summary>Drops every entry whose key matches; returns how many.</summary>
    public int Purge(Func<CacheKey, bool> matches)
    {
        List<CacheEntry>? released = null;
        lock (_lock)
        {
            for (var entry = _newest; entry is not null;)
            {
                var older = entry.Older;
                if (matches(entry.Key))
                {
                    RemoveLocked(entry, ref released);
                }

                entry = older;
            }
        }

        ReleaseAll(released);
        return released?.Count ?? 0;
    }

    /// <summary>A new limit, applied at once: entries are evicted until the hot set fits in it.</summary>
    public void Resize(long limit)
    {
        List<CacheEntry>? released = null;
        lock (_lock)
        {
            Interlocked.Exchange(ref _limit, limit);
            while (_bytes > _limit && _oldest is not null)
            {
                RemoveLocked(SelectVictimLocked(), ref released);
                Interlocked.Increment(ref _evictions);
            }
        }

        ReleaseAll(released);
    }

    /// <summary>
    /// The key's origin request in flight, or a new one this caller leads (<paramref name="leads"/> true): it must
    /// end it with <see cref="EndFlight"/>.
    /// </summary>
    public Flight JoinOrLead(in CacheKey key, out bool leads)
    {
        var mine = new Flight();
        var flight = _flights.GetOrAdd(key, mine);
        leads = ReferenceEquals(flight, mine);
        return flight;
    }

    /// <summary>The key's flight, if a request is at the origin for it now.</summary>
    public Flight? FlightOf(in CacheKey key) => _flights.TryGetValue(key, out var flight) ? flight : null;

    public void EndFlight(in CacheKey key, Flight flight) => _flights.TryRemove(new KeyValuePair<CacheKey, Flight>(key, flight));

    private CacheEntry SelectVictimLocked()
    {
        var hand = _hand ?? _oldest!;
        while (hand.Visited)
        {
            hand.Visited = false;
            hand = hand.Newer ?? _oldest!;
        }

        _hand = hand; // removing it moves the hand on to the next newer entry
        return hand;
    }

    /// <summary>Whether the entry is in the list: a linked one has a newer one, or is the newest.</summary>
    private bool LinkedLocked(CacheEntry entry) => entry.Newer is not null || ReferenceEquals(_newest, entry);

    private void LinkLocked(CacheEntry entry, long sharedBytes)
    {
        entry.Older = _newest;
        entry.Newer = null;
        if (_newest is not null)
        {
            _newest.Newer = entry;
        }

        _newest = entry;
        _oldest ??= entry;
        Interlocked.Add(ref _bytes, entry.Charge + sharedBytes);
    }

    private void RemoveLocked(CacheEntry entry, ref List<CacheEntry>? released)
    {
        if (!LinkedLocked(entry))
        {
            return;
        }

        if (ReferenceEquals(_hand, entry))
        {
            _hand = entry.Newer;
        }

        if (entry.Newer is not null)
        {
            entry.Newer.Older = entry.Older;
        }
        else
        {
            _newest = entry.Older;
        }

        if (entry.Older is not null)
        {
            entry.Older.Newer = entry.Newer;
        }
        else
        {
            _oldest = entry.Newer;
        }

        entry.Newer = entry.Older = null;
        _entries.TryRemove(new KeyValuePair<CacheKey, CacheEntry>(entry.Key, entry));
        Interlocked.Add(ref _bytes, -(entry.Charge + entry.Unshare(_shared)));
        (released ??= []).Add(entry);
    }

    private static void ReleaseAll(List<CacheEntry>? released)
    {
        if (released is null)
        {
            return;
        }

        foreach (var entry in released)
        {
            entry.Body.Release();
        }
    }
}
