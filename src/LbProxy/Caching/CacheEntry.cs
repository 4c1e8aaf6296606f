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
    /// What an entry costs beyond its headers and body: this object, its node in the hot set's table (and its share
    /// of the table's growth), the body's object and its list of arrays, the key's strings. Measured:
    /// <c>HotSetTests.Charge_CoversTheManagedBytesAnEntryTakes_WithNginxsHeaders</c> allocates 9,443 bytes an entry
    /// for an 8 KiB body with nginx's eight headers, 651 of them beyond the body and headers; rounded up.
    /// </summary>
    public const int Overhead = 704;

    /// <summary>An array's header and length (64 bits), and one pair of the headers' array: a name and a value reference.</summary>
    private const long ArrayBytes = 24;
    private const long PairBytes = 16;

    public CacheEntry(CacheKey key, int statusCode, KeyValuePair<string, StringValues>[] headers, CacheBody body, DateTimeOffset storedAt, Freshness freshness)
    {
        Key = key;
        StatusCode = statusCode;
        Headers = headers;
        Body = body;
        StoredAt = storedAt;
        Freshness = freshness;
        long headerBytes = ArrayBytes + (PairBytes * headers.Length);
        foreach (var (name, values) in headers)
        {
            // A known header's name (Content-Type, ETag...) is one string shared by every response, interned: only a
            // name of this response's own is counted. Every value is counted, shared or not.
            if (!ReferenceEquals(string.IsInterned(name), name))
            {
                headerBytes += StringBytes(name);
            }

            if (values.Count > 1)
            {
                headerBytes += ArrayBytes + (8L * values.Count);
            }

            foreach (var value in values)
            {
                headerBytes += StringBytes(value);
            }

            if (name.Equals(HeaderNames.ETag, StringComparison.OrdinalIgnoreCase))
            {
                ETag = values.ToString();
            }
            else if (name.Equals(HeaderNames.LastModified, StringComparison.OrdinalIgnoreCase)
                && HeaderUtilities.TryParseDate(values.ToString(), out var lastModified))
            {
                LastModified = lastModified;
            }
        }

        Length = body.Length;
        Charge = Overhead + headerBytes + body.Capacity;
    }

    public CacheKey Key { get; }

    public int StatusCode { get; }

    public KeyValuePair<string, StringValues>[] Headers { get; }

    public CacheBody Body { get; }

    public long Length { get; }

    public DateTimeOffset StoredAt { get; }

    public Freshness Freshness { get; }

    public string? ETag { get; }

    public DateTimeOffset? LastModified { get; }

    /// <summary>Bytes this entry counts against the hot set's limit.</summary>
    public long Charge { get; }

    /// <summary>SIEVE's bit: set by a hit, cleared by the hand passing over it.</summary>
    public volatile bool Visited;

    /// <summary>The hot set's list, newest first; under the hot set's lock.</summary>
    internal CacheEntry? Newer;

    internal CacheEntry? Older;

    internal bool Linked;

    /// <summary>A string's size in memory on 64 bits: header, length, UTF-16 characters and terminator, in 8-byte units.</summary>
    private static long StringBytes(string? value) => (22 + (2L * (value?.Length ?? 0)) + 7) & ~7L;

    public TimeSpan AgeAt(DateTimeOffset now) => Freshness.InitialAge + (now > StoredAt ? now - StoredAt : TimeSpan.Zero);

    /// <summary>How long past its freshness the entry is at <paramref name="now"/> (zero or less: fresh).</summary>
    public TimeSpan StalenessAt(DateTimeOffset now) => AgeAt(now) - Freshness.Lifetime;
}
