using System.ComponentModel.DataAnnotations;
using LbProxy.Configuration;
using Microsoft.Extensions.Options;

namespace LbProxy.Caching;

/// <summary>
/// The hot set: one bounded store of responses in memory, shared by every route whose metadata says
/// <c>"Cache.Enabled": "true"</c>. Applied live on reload: a smaller <see cref="SizeLimitBytes"/> evicts at once.
/// </summary>
internal sealed class CacheOptions
{
    public const string SectionName = "LbProxy:Cache";

    /// <summary>
    /// Bytes the whole hot set may hold, bodies and headers counted as the arrays and strings that hold them: never
    /// exceeded (an object that would not fit after evicting everything is not stored). 0 stores nothing.
    /// </summary>
    [Range(0L, 64L * 1024 * 1024 * 1024)]
    public long SizeLimitBytes { get; set; } = 256L * 1024 * 1024;

    /// <summary>
    /// The largest body stored; larger responses are streamed through, never buffered. Herds of a larger object are
    /// not collapsed either: collapsing needs the bytes kept for the waiters.
    /// </summary>
    [Range(0L, 1024L * 1024 * 1024)]
    public long MaxObjectBytes { get; set; } = 8L * 1024 * 1024;

    /// <summary>
    /// Freshness of a stored response whose origin gave none (no <c>s-maxage</c>, <c>max-age</c> or <c>Expires</c>).
    /// Zero stores nothing without the origin's word.
    /// </summary>
    [TimeSpanRange("00:00:00", "365.00:00:00")]
    public TimeSpan DefaultTtl { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// How long past its freshness a stored response may still be answered when the origin fails, times out, answers
    /// 5xx or no destination is healthy (RFC 5861 stale-if-error). Zero never answers stale content on errors.
    /// </summary>
    [TimeSpanRange("00:00:00", "30.00:00:00")]
    public TimeSpan MaxStaleIfError { get; set; } = TimeSpan.FromHours(1);

    /// <summary>
    /// How long past its freshness a stored response is still answered while one request refreshes it from the
    /// origin in the background (RFC 5861 stale-while-revalidate). Zero: a stale response is refreshed before it
    /// is answered, by the request that finds it.
    /// </summary>
    [TimeSpanRange("00:00:00", "30.00:00:00")]
    public TimeSpan MaxStaleWhileRevalidate { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How many background refreshes (stale-while-revalidate) may be at the origin at once, over every key (one per
    /// key at most). A stale entry found while they are all busy is answered stale without a refresh; once past
    /// <see cref="MaxStaleWhileRevalidate"/> it is refreshed by the request that finds it.
    /// </summary>
    [Range(1, 4096)]
    public int MaxConcurrentRefreshes { get; set; } = 32;

    /// <summary>
    /// How long a request waits for another one's origin request for the same key (collapsed forwarding) to produce
    /// its response headers; after that it goes to the origin itself. The body, once started, streams without bound.
    /// </summary>
    [TimeSpanRange("00:00:00.010", "00:05:00")]
    public TimeSpan CollapseTimeout { get; set; } = TimeSpan.FromSeconds(10);
}

[OptionsValidator]
internal sealed partial class CacheOptionsValidator : IValidateOptions<CacheOptions>;
