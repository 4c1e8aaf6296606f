using System.Diagnostics;
using System.Diagnostics.Metrics;
using LbProxy.Metrics;

namespace LbProxy.Caching;

/// <summary>
/// <c>lbproxy_cache_requests_total{route,result}</c> (hit, miss, stale, collapsed, bypass), started at 0 for every
/// cached route when a config is applied; <c>lbproxy_cache_bytes</c> and <c>lbproxy_cache_entries</c>, what the hot set holds;
/// <c>lbproxy_cache_evictions_total</c>; <c>lbproxy_cache_purges_total{scope}</c> (path, all);
/// <c>lbproxy_cache_refreshes_total{result}</c>, the background refreshes of stale-while-revalidate. The hit ratio is
/// <c>hit / sum</c> of the first; a route whose hits stay at 0 is misconfigured or its origin forbids storing.
/// </summary>
internal sealed class CacheMetrics : IClusterSeries
{
    public const string RequestsName = "lbproxy.cache.requests";
    public const string BytesName = "lbproxy.cache.bytes";
    public const string LimitName = "lbproxy.cache.limit";
    public const string EntriesName = "lbproxy.cache.entries";
    public const string EvictionsName = "lbproxy.cache.evictions";
    public const string PurgesName = "lbproxy.cache.purges";
    public const string RefreshesName = "lbproxy.cache.refreshes";

    public const string ScopePath = "path";
    public const string ScopeAll = "all";

    private readonly ConfiguredCounter<CacheRequestSeries> _requests;
    private readonly long[] _totals = new long[CacheResult.All.Count];
    private long _purgedPaths;
    private long _purgedAll;
    private readonly long[] _refreshes = new long[RefreshResults.Length];

    /// <summary>
    /// What a background refresh did: <c>stored</c> (the origin's new response stored), <c>revalidated</c> (its 304
    /// refreshed the entry), <c>dropped</c> (it answered something not to store: the stale entry is dropped),
    /// <c>failed</c> (no answer, a 5xx or shed: the stale entry stays), <c>skipped</c> (not started: every refresh
    /// slot busy).
    /// </summary>
    public static readonly string[] RefreshResults = ["stored", "revalidated", "dropped", "failed", "skipped"];

    public CacheMetrics(IMeterFactory meterFactory, HotSet hotSet)
    {
        var meter = meterFactory.Create(LbProxyMeter.Name);
        _requests = new ConfiguredCounter<CacheRequestSeries>(
            meter,
            RequestsName,
            unit: "{request}",
            description: "Requests of cached routes by what the hot set did: hit, miss, stale, collapsed (no origin request of its own), bypass.");
        meter.CreateObservableGauge(BytesName, () => hotSet.Bytes, unit: "By",
            description: "Bytes the hot set holds, headers and bodies, as counted against LbProxy:Cache:SizeLimitBytes.");
        meter.CreateObservableGauge(LimitName, () => hotSet.Limit, unit: "By", description: "LbProxy:Cache:SizeLimitBytes as applied.");
        meter.CreateObservableGauge(EntriesName, () => (long)hotSet.Count, unit: "{entry}", description: "Responses the hot set holds.");
        meter.CreateObservableCounter(EvictionsName, () => hotSet.Evictions, unit: "{eviction}",
            description: "Entries evicted to make room (purges and replacements not counted).");
        meter.CreateObservableCounter(PurgesName, ObservePurges, unit: "{purge}",
            description: "Purge requests answered, by scope: one path (every format class), or all.");
        meter.CreateObservableCounter(RefreshesName, ObserveRefreshes, unit: "{refresh}",
            description: "Background refreshes of stale entries (stale-while-revalidate) by result: stored, revalidated, dropped, failed (the stale entry stays), skipped (every refresh slot busy).");
    }

    public void Record(string routeId, CacheResult result)
    {
        Interlocked.Increment(ref _totals[result.Index]);
        if (_requests.Enabled)
        {
            _requests.Add(new CacheRequestSeries(routeId, result.Result));
        }
    }

    /// <summary>Requests of every cached route by result, since the start: for the status section and the live page.</summary>
    public long Total(CacheResult result) => Interlocked.Read(ref _totals[result.Index]);

    /// <summary>Counts one background refresh; <paramref name="result"/> is an index into <see cref="RefreshResults"/>.</summary>
    public void RecordRefresh(RefreshResult result) => Interlocked.Increment(ref _refreshes[(int)result]);

    public long Refreshes(RefreshResult result) => Interlocked.Read(ref _refreshes[(int)result]);

    public void RecordPurge(bool all) => Interlocked.Increment(ref all ? ref _purgedAll : ref _purgedPaths);

    public void Configure(ConfiguredIds ids)
    {
        _requests.Configure(ids);
        // Every result of every cached route of the config just applied starts at 0: a hit ratio is defined (0/0
        // aside) from the first scrape, before the route's first request. Cached routes are few: five series each.
        foreach (var route in ids.Routes)
        {
            if (CacheRouteSettings.Parse(route.Metadata).Settings is { Enabled: true })
            {
                foreach (var result in CacheResult.All)
                {
                    _requests.Start(new CacheRequestSeries(route.RouteId, result.Result));
                }
            }
        }
    }

    private IEnumerable<Measurement<long>> ObserveRefreshes()
    {
        var measurements = new Measurement<long>[RefreshResults.Length];
        for (var i = 0; i < measurements.Length; i++)
        {
            measurements[i] = new(Interlocked.Read(ref _refreshes[i]), new KeyValuePair<string, object?>("result", RefreshResults[i]));
        }

        return measurements;
    }

    private IEnumerable<Measurement<long>> ObservePurges() =>
    [
        new(Interlocked.Read(ref _purgedPaths), new KeyValuePair<string, object?>("scope", ScopePath)),
        new(Interlocked.Read(ref _purgedAll), new KeyValuePair<string, object?>("scope", ScopeAll)),
    ];
}

/// <summary>What a background refresh did: the <c>result</c> of <c>lbproxy_cache_refreshes_total</c>, in the order of <see cref="CacheMetrics.RefreshResults"/>.</summary>
internal enum RefreshResult
{
    Stored,
    Revalidated,
    Dropped,
    Failed,
    Skipped,
}

/// <summary>One series of <c>lbproxy_cache_requests_total</c>.</summary>
internal readonly record struct CacheRequestSeries(string Route, string Result) : IConfiguredSeriesKey
{
    public bool IsConfiguredIn(ConfiguredIds ids) => ids.HasRoute(Route);

    public TagList Tags() => new()
    {
        { MetricTags.Route, Route },
        { MetricTags.Result, Result },
    };
}
