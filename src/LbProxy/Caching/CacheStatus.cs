using System.Text.Json.Serialization;

namespace LbProxy.Caching;

/// <summary>
/// The <c>cache</c> section of <c>/_lb/status</c> and the live page: what the hot set holds against its limit, and
/// what it did for the requests of cached routes since the start (<c>hitRatio</c>: hits and stale answers over every
/// request that could have been one, bypasses left out; null before the first).
/// </summary>
internal sealed record CacheStatus(
    long Bytes,
    long LimitBytes,
    int Entries,
    long Evictions,
    long Hits,
    long Misses,
    long Stale,
    long Collapsed,
    long Bypassed,
    double? HitRatio)
{
    public static CacheStatus Capture(HotSet hotSet, CacheMetrics metrics)
    {
        var hits = metrics.Total(CacheResult.Hit);
        var misses = metrics.Total(CacheResult.Miss);
        var stale = metrics.Total(CacheResult.Stale);
        var collapsed = metrics.Total(CacheResult.Collapsed);
        var answerable = hits + misses + stale + collapsed;
        return new CacheStatus(
            hotSet.Bytes,
            hotSet.Limit,
            hotSet.Count,
            hotSet.Evictions,
            hits,
            misses,
            stale,
            collapsed,
            metrics.Total(CacheResult.Bypass),
            answerable == 0 ? null : Math.Round((double)(hits + stale) / answerable, 4));
    }
}

/// <summary>The answer of a purge.</summary>
internal sealed record CachePurge(string Scope, string? Path, int Purged);

/// <summary>Source-generated JSON of the cache stage (camelCase; the writer's conventions are Control's).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(CacheStatus))]
[JsonSerializable(typeof(CachePurge))]
internal sealed partial class CacheJsonContext : JsonSerializerContext;
