using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;

namespace LbProxy.Caching;

/// <summary>
/// One stored response: its status, the headers to answer with (hop-by-hop ones, <c>Content-Length</c>, <c>Age</c>
/// and <c>Cache-Status</c> left out: they are the answer's own), the body, and when it was stored. Immutable but for
/// the eviction bit and the links of the hot set's list, which only the hot set touches.
/// </summary>
internal sealed class CacheEntry
{
    /// <summary>
    /// What an entry costs beyond its headers, its body's bytes and its key's path and query: this object, its node in
    /// the hot set's table (and its share of the table's buckets), the body's object and its array's header.
    /// Measured: <c>HotSetTests.Charge_CoversTheManagedBytesAnEntryTakes_WithNginxsHeaders</c> costs 8,736 bytes an
    /// entry for an 8 KiB body with nginx's eight headers (its own: the headers' array, the ETag, the path; the other
    /// values and the host shared), 288 of them beyond those; with the buckets' share, rounded up. It was 651, the key's
    /// host and path (104) included, before the body's lock object, the entry's DateTimeOffset fields and the body's
    /// list of one array went.
    /// </summary>
    public const int Overhead = 320;

    /// <summary>An array's header and length (64 bits), and one pair of the headers' array: a name and a value reference.</summary>
    private const long ArrayBytes = 24;
    private const long PairBytes = 16;

    /// <summary>Values that name one response (or one answer to it): never alike across entries, kept as the entry's own.</summary>
    private static readonly HashSet<string> Unique = new(StringComparer.OrdinalIgnoreCase)
    {
        HeaderNames.ETag, HeaderNames.ContentRange, HeaderNames.ContentLocation, HeaderNames.Location,
    };

    // Stored compactly (UTC ticks, whole seconds, a short status): every stored response has them, and
    // DateTimeOffset, its nullable, Freshness and the status took 68 bytes where these take 31.
    private readonly long _storedAt;
    private readonly long _lifetime;
    private readonly long _lastModified;
    private readonly int _initialAgeSeconds;
    private readonly short _statusCode;
    private readonly bool _mustRevalidate;

    public CacheEntry(CacheKey key, int statusCode, KeyValuePair<string, StringValues>[] headers, CacheBody body, DateTimeOffset storedAt, Freshness freshness)
    {
        Key = key;
        _statusCode = (short)statusCode;
        Headers = headers;
        Body = body;
        _storedAt = storedAt.UtcTicks;
        _lifetime = freshness.Lifetime.Ticks;
        _initialAgeSeconds = (int)Math.Min(int.MaxValue, Math.Ceiling(freshness.InitialAge.TotalSeconds));
        _mustRevalidate = freshness.MustRevalidate;
        long ownBytes = ArrayBytes + (PairBytes * headers.Length) + StringBytes(key.Path) + StringBytes(key.Query);
        foreach (var (name, values) in headers)
        {
            // A known header's name (Content-Type, ETag...) is one string shared by every response, interned: only a
            // name of this response's own is counted. A value the hot set shares is counted there, once.
            if (!ReferenceEquals(string.IsInterned(name), name))
            {
                ownBytes += StringBytes(name);
            }

            if (values.Count > 1)
            {
                ownBytes += ArrayBytes + (8L * values.Count);
            }

            if (!IsShared(name, values))
            {
                foreach (var value in values)
                {
                    ownBytes += StringBytes(value);
                }
            }

            if (name.Equals(HeaderNames.ETag, StringComparison.OrdinalIgnoreCase))
            {
                ETag = values.ToString();
            }
            else if (name.Equals(HeaderNames.LastModified, StringComparison.OrdinalIgnoreCase)
                && HeaderUtilities.TryParseDate(values.ToString(), out var lastModified))
            {
                _lastModified = lastModified.UtcTicks;
            }
        }

        Charge = Overhead + ownBytes + body.Capacity;
    }

    /// <summary>The key; its host becomes the hot set's shared instance when the entry is added.</summary>
    public CacheKey Key { get; private set; }

    public int StatusCode => _statusCode;

    public KeyValuePair<string, StringValues>[] Headers { get; }

    public CacheBody Body { get; }

    public long Length => Body.Length;

    public DateTimeOffset StoredAt => new(_storedAt, TimeSpan.Zero);

    public Freshness Freshness => new(TimeSpan.FromTicks(_lifetime), TimeSpan.FromSeconds(_initialAgeSeconds), _mustRevalidate);

    public string? ETag { get; }

    public DateTimeOffset? LastModified => _lastModified == 0 ? null : new DateTimeOffset(_lastModified, TimeSpan.Zero);

    /// <summary>Bytes this entry counts against the hot set's limit, but for the values it shares (see <see cref="SharedValues"/>).</summary>
    public long Charge { get; }

    /// <summary>SIEVE's bit: set by a hit, cleared by the hand passing over it.</summary>
    public volatile bool Visited;

    /// <summary>The hot set's list, newest first; under the hot set's lock.</summary>
    internal CacheEntry? Newer;

    internal CacheEntry? Older;

    /// <summary>A string's size in memory on 64 bits: header, length, UTF-16 characters and terminator, in 8-byte units.</summary>
    internal static long StringBytes(string? value) => string.IsNullOrEmpty(value) ? 0 : (22 + (2L * value.Length) + 7) & ~7L;

    public TimeSpan AgeAt(DateTimeOffset now) => TimeSpan.FromSeconds(_initialAgeSeconds) + (now.UtcTicks > _storedAt ? TimeSpan.FromTicks(now.UtcTicks - _storedAt) : TimeSpan.Zero);

    /// <summary>How long past its freshness the entry is at <paramref name="now"/> (zero or less: fresh).</summary>
    public TimeSpan StalenessAt(DateTimeOffset now) => AgeAt(now) - TimeSpan.FromTicks(_lifetime);

    /// <summary>
    /// Whether a header's value is one the hot set shares: a single value, not over <see cref="SharedValues.MaxLength"/>,
    /// of a header whose values are not unique by nature. Decided by the header alone, so that adding and removing
    /// the entry take and give back the same values.
    /// </summary>
    private static bool IsShared(string name, StringValues values) =>
        values.Count == 1 && values[0] is { Length: <= SharedValues.MaxLength } && !Unique.Contains(name);

    /// <summary>
    /// Under the hot set's lock, as the entry goes in: its host and shared values swapped for the table's instances
    /// (one use each); returns the bytes of those new to the table.
    /// </summary>
    internal long Share(SharedValues shared)
    {
        long added = 0;
        Key = Key with { Host = shared.Acquire(Key.Host, ref added) };
        var headers = Headers;
        for (var i = 0; i < headers.Length; i++)
        {
            var (name, values) = headers[i];
            if (IsShared(name, values))
            {
                // Requests collapsed onto this response may be reading the array: each sees the name with either the
                // value it had or the equal shared one.
                headers[i] = new(name, shared.Acquire(values[0]!, ref added));
            }
        }

        return added;
    }

    /// <summary>Under the hot set's lock, as the entry leaves: the uses <see cref="Share"/> took given back; returns the bytes freed.</summary>
    internal long Unshare(SharedValues shared)
    {
        var freed = shared.Release(Key.Host);
        foreach (var (name, values) in Headers)
        {
            if (IsShared(name, values))
            {
                freed += shared.Release(values[0]!);
            }
        }

        return freed;
    }

    /// <summary>What sharing costs the hot set at most: the bytes of all of the entry's shared values, as if none were in the table yet.</summary>
    internal long SharedBytes()
    {
        var bytes = SharedValues.Bytes(Key.Host);
        foreach (var (name, values) in Headers)
        {
            if (IsShared(name, values))
            {
                bytes += SharedValues.Bytes(values[0]!);
            }
        }

        return bytes;
    }
}
