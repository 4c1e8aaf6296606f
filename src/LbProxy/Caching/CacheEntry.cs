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
    /// <summary>What an entry costs beyond its headers and body: the objects that hold them, measured roughly.</summary>
    public const int Overhead = 512;

    public CacheEntry(CacheKey key, int statusCode, KeyValuePair<string, StringValues>[] headers, CacheBody body, DateTimeOffset storedAt, Freshness freshness)
    {
        Key = key;
        StatusCode = statusCode;
        Headers = headers;
        Body = body;
        StoredAt = storedAt;
        Freshness = freshness;
        long headerBytes = 0;
        foreach (var (name, values) in headers)
        {
            headerBytes += 64 + (2L * name.Length);
            foreach (var value in values)
            {
                headerBytes += 32 + (2L * (value?.Length ?? 0));
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

    public TimeSpan AgeAt(DateTimeOffset now) => Freshness.InitialAge + (now > StoredAt ? now - StoredAt : TimeSpan.Zero);

    /// <summary>How long past its freshness the entry is at <paramref name="now"/> (zero or less: fresh).</summary>
    public TimeSpan StalenessAt(DateTimeOffset now) => AgeAt(now) - Freshness.Lifetime;
}
