using System.Net;
using System.Text.Json.Nodes;
using LbProxy.Caching;
using LbProxy.Tests.Infrastructure;

namespace LbProxy.Tests.Functional;

/// <summary>
/// stale-while-revalidate in the background, through a real proxy and a real origin that counts requests per key and
/// holds its answers until told: requests for a stale key are answered the stale bytes while the one refresh is still
/// held at the origin; the refresh goes through the route's origin protection; a failed refresh keeps the stale entry.
/// </summary>
public sealed class CacheRefreshTests : IAsyncLifetime
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    private CountingOrigin _origin = null!;

    public async Task InitializeAsync() => _origin = await CountingOrigin.StartAsync();

    public async Task DisposeAsync() => await _origin.DisposeAsync();

    [Fact]
    public async Task HerdOnAStaleKey_AnsweredStaleWhileTheOneRefreshIsHeld_ThenAHitWithTheNewBytes()
    {
        await using var proxy = await TestProxy.StartAsync(CacheConfig.For(_origin.Address, new JsonObject { ["MaxStaleWhileRevalidate"] = "00:05:00" }));
        using var client = ManyConnections(proxy);
        const string Query = "?cc=max-age=1&validators=none&hold=1";
        const string Path = "/images/swr.jpg" + Query;
        var (hotSet, metrics, key) = Parts(proxy, "/images/swr.jpg", Query);
        _origin.Release();
        var first = await GetAsync(client, Path);
        await Poll.UntilAsync(() => hotSet.Get(key)?.StalenessAt(DateTimeOffset.UtcNow) > TimeSpan.Zero, Bound, "the entry going stale");

        // The refresh is held at the origin: every answer below comes while it is still there.
        _origin.Hold();
        var herd = await Task.WhenAll(Enumerable.Range(0, 200).Select(_ => GetAsync(client, Path)));
        var originDuringHerd = _origin.CountOf("/images/swr.jpg");
        var refreshesDuringHerd = metrics.Refreshes(RefreshResult.Stored);
        _origin.Release();
        await Poll.UntilAsync(() => metrics.Refreshes(RefreshResult.Stored) == 1, Bound, "the refresh stored",
            () => $"origin saw {_origin.Requests}, failed {metrics.Refreshes(RefreshResult.Failed)}");
        var after = await GetAsync(client, Path);
        var scrape = await MetricsScrape.TakeAsync(client);

        Assert.Equal(2, originDuringHerd); // the first request, then one refresh for 200 stale answers
        Assert.Equal(0, refreshesDuringHerd);
        Assert.All(herd, a => Assert.Equal((HttpStatusCode.OK, 1), (a.Status, a.N)));
        Assert.All(herd, a => Assert.Equal(first.Body, a.Body));
        Assert.All(herd, static a => Assert.Matches(@"^LbProxy; hit; ttl=-\d+; detail=stale-while-revalidate$", a.CacheStatus));
        Assert.Equal((HttpStatusCode.OK, 2, "LbProxy; hit"), (after.Status, after.N, after.CacheStatus)); // the refresh's new bytes, fresh
        Assert.Equal(2, _origin.CountOf("/images/swr.jpg"));
        Assert.Equal(1, scrape.Single("lbproxy_cache_refreshes_total", ("result", "stored")));
        Assert.Equal(0, scrape.Single("lbproxy_cache_refreshes_total", ("result", "failed")));
        Assert.Equal(200, scrape.Single("lbproxy_cache_requests_total", ("route", "images"), ("result", "stale")));
        Assert.Equal(0, proxy.Services.GetRequiredService<CacheRefreshes>().InFlight);
    }

    [Fact]
    public async Task StaleWithValidator_TheRefreshIsAConditionalRequest_ItsA304RefreshesTheEntry()
    {
        await using var proxy = await TestProxy.StartAsync(CacheConfig.For(_origin.Address, new JsonObject { ["MaxStaleWhileRevalidate"] = "00:05:00" }));
        using var client = ManyConnections(proxy);
        const string Path = "/images/swr304.jpg?cc=max-age=1";
        var (hotSet, metrics, key) = Parts(proxy, "/images/swr304.jpg", "?cc=max-age=1");
        var first = await GetAsync(client, Path);
        await Poll.UntilAsync(() => hotSet.Get(key)?.StalenessAt(DateTimeOffset.UtcNow) > TimeSpan.Zero, Bound, "the entry going stale");

        var stale = await GetAsync(client, Path);
        await Poll.UntilAsync(() => metrics.Refreshes(RefreshResult.Revalidated) == 1, Bound, "the refresh revalidated");
        var after = await GetAsync(client, Path);

        Assert.Contains("detail=stale-while-revalidate", stale.CacheStatus, StringComparison.Ordinal);
        Assert.Equal((HttpStatusCode.OK, 1, "LbProxy; hit"), (after.Status, after.N, after.CacheStatus)); // the stored bytes, fresh again
        Assert.Equal(first.Body, after.Body);
        Assert.Equal(2, _origin.Requests); // the first, then the revalidation the origin answered 304
    }

    [Fact]
    public async Task RefreshToAFailingOrigin_TheStaleEntryStaysAndIsAnsweredWithinTheBound_Counted()
    {
        await using var proxy = await TestProxy.StartAsync(CacheConfig.For(_origin.Address, new JsonObject { ["MaxStaleWhileRevalidate"] = "00:05:00" }));
        using var client = ManyConnections(proxy);
        const string Path = "/images/swrfail.jpg?cc=max-age=1&hold=1";
        var (hotSet, metrics, key) = Parts(proxy, "/images/swrfail.jpg", "?cc=max-age=1&hold=1");
        _origin.Release();
        var first = await GetAsync(client, Path);
        await Poll.UntilAsync(() => hotSet.Get(key)?.StalenessAt(DateTimeOffset.UtcNow) > TimeSpan.Zero, Bound, "the entry going stale");

        _origin.Failing = true;
        _origin.Hold();
        var herd = await Task.WhenAll(Enumerable.Range(0, 100).Select(_ => GetAsync(client, Path)));
        var originDuringHerd = _origin.CountOf("/images/swrfail.jpg");
        _origin.Release();
        await Poll.UntilAsync(() => metrics.Refreshes(RefreshResult.Failed) == 1, Bound, "the refresh failed");

        // Each later request is answered stale too, and may start one more refresh, which fails again.
        var later = new List<int>();
        for (var i = 0; i < 20; i++)
        {
            var answer = await GetAsync(client, Path);
            later.Add(answer.Status == HttpStatusCode.OK && answer.N == 1 && answer.CacheStatus.Contains("stale-while-revalidate", StringComparison.Ordinal) ? 1 : 0);
        }

        var refreshes = proxy.Services.GetRequiredService<CacheRefreshes>();
        await Poll.UntilAsync(() => refreshes.InFlight == 0, Bound, "the last refresh ended");

        Assert.Equal(2, originDuringHerd);
        Assert.All(herd, a => Assert.Equal((HttpStatusCode.OK, 1), (a.Status, a.N)));
        Assert.All(herd, a => Assert.Equal(first.Body, a.Body));
        Assert.Equal(20, later.Sum());
        Assert.NotNull(hotSet.Get(key)); // the stale entry stays
        Assert.InRange(_origin.CountOf("/images/swrfail.jpg"), 3, 2 + 20); // at most one refresh per stale answer
        Assert.Equal(_origin.CountOf("/images/swrfail.jpg") - 1, metrics.Refreshes(RefreshResult.Failed));
        Assert.Equal(0, metrics.Refreshes(RefreshResult.Stored) + metrics.Refreshes(RefreshResult.Dropped));
    }

    [Fact]
    public async Task RefreshAnsweredWithSomethingNotToStore_TheStaleEntryIsDropped()
    {
        await using var proxy = await TestProxy.StartAsync(CacheConfig.For(_origin.Address, new JsonObject { ["MaxStaleWhileRevalidate"] = "00:05:00" }));
        using var client = ManyConnections(proxy);
        const string Path = "/images/gone.jpg?cc=max-age=1&validators=none";
        var (hotSet, metrics, key) = Parts(proxy, "/images/gone.jpg", "?cc=max-age=1&validators=none");
        await GetAsync(client, Path);
        await Poll.UntilAsync(() => hotSet.Get(key)?.StalenessAt(DateTimeOffset.UtcNow) > TimeSpan.Zero, Bound, "the entry going stale");

        _origin.Gone = true; // the image is deleted: 404, no-store
        var stale = await GetAsync(client, Path);
        await Poll.UntilAsync(() => metrics.Refreshes(RefreshResult.Dropped) == 1, Bound, "the refresh dropped the entry");
        var after = await GetAsync(client, Path);

        Assert.Equal((HttpStatusCode.OK, 1), (stale.Status, stale.N));
        Assert.Contains("stale-while-revalidate", stale.CacheStatus, StringComparison.Ordinal);
        Assert.Null(hotSet.Get(key));
        Assert.Equal(HttpStatusCode.NotFound, after.Status); // from the origin, not the stale copy
        Assert.StartsWith("LbProxy; fwd=uri-miss", after.CacheStatus, StringComparison.Ordinal);
        Assert.Equal(3, _origin.CountOf("/images/gone.jpg"));
    }

    [Fact]
    public async Task RefreshesAreBoundedOverall_AStaleKeyFoundWhileTheSlotIsTaken_IsAnsweredStaleWithoutOne()
    {
        var cache = new JsonObject { ["MaxStaleWhileRevalidate"] = "00:05:00", ["MaxConcurrentRefreshes"] = 1 };
        await using var proxy = await TestProxy.StartAsync(CacheConfig.For(_origin.Address, cache));
        using var client = ManyConnections(proxy);
        const string Query = "?cc=max-age=1&validators=none&hold=1";
        var (hotSet, metrics, keyA) = Parts(proxy, "/images/a.jpg", Query);
        var keyB = keyA with { Path = "/images/b.jpg" };
        _origin.Release();
        await GetAsync(client, "/images/a.jpg" + Query);
        await GetAsync(client, "/images/b.jpg" + Query);
        await Poll.UntilAsync(() => hotSet.Get(keyB)?.StalenessAt(DateTimeOffset.UtcNow) > TimeSpan.Zero, Bound, "the entries going stale");

        _origin.Hold();
        var a = await GetAsync(client, "/images/a.jpg" + Query); // its refresh takes the one slot, held at the origin
        var b = await GetAsync(client, "/images/b.jpg" + Query); // no slot: answered stale, no refresh
        var bAtOrigin = _origin.CountOf("/images/b.jpg");
        var skipped = metrics.Refreshes(RefreshResult.Skipped);
        _origin.Release();
        await Poll.UntilAsync(() => metrics.Refreshes(RefreshResult.Stored) == 1, Bound, "a's refresh stored");
        var b2 = await GetAsync(client, "/images/b.jpg" + Query); // the slot is free: b's refresh starts now
        await Poll.UntilAsync(() => metrics.Refreshes(RefreshResult.Stored) == 2, Bound, "b's refresh stored");

        Assert.All([a, b, b2], static s => Assert.Contains("stale-while-revalidate", s.CacheStatus, StringComparison.Ordinal));
        Assert.Equal(1, bAtOrigin);
        Assert.Equal(1, skipped);
        Assert.Equal((2, 2), (_origin.CountOf("/images/a.jpg"), _origin.CountOf("/images/b.jpg")));
    }

    [Fact]
    public async Task TheRefreshTakesAnOriginSlot_ItWaitsInTheAdmissionQueueWhileTheClientHasItsStaleAnswer()
    {
        var config = JsonNode.Parse(CacheConfig.For(_origin.Address, new JsonObject { ["MaxStaleWhileRevalidate"] = "00:05:00" }))!;
        config["ReverseProxy"]!["Clusters"]!["images"]!["Metadata"] = new JsonObject { ["Concurrency.MaxPerDestination"] = "1", ["Concurrency.QueueTimeout"] = "00:01:00" };
        await using var proxy = await TestProxy.StartAsync(config.ToJsonString());
        using var client = ManyConnections(proxy);
        const string Query = "?cc=max-age=1&validators=none";
        var (hotSet, metrics, key) = Parts(proxy, "/images/slot.jpg", Query);
        await GetAsync(client, "/images/slot.jpg" + Query);
        await Poll.UntilAsync(() => hotSet.Get(key)?.StalenessAt(DateTimeOffset.UtcNow) > TimeSpan.Zero, Bound, "the entry going stale");

        // An uncached request holds the destination's one slot at the origin.
        var busy = GetAsync(client, "/plain/busy.jpg?hold=1");
        await Poll.UntilAsync(() => _origin.CountOf("/plain/busy.jpg") == 1, Bound, "the slot taken");
        var stale = await GetAsync(client, "/images/slot.jpg" + Query);
        await Poll.UntilAsync(async () => (await MetricsScrape.TakeAsync(client)).Single("lbproxy_admission_queue_length", ("cluster", "images")) == 1,
            Bound, "the refresh queued for the slot");
        var atOriginWhileQueued = _origin.CountOf("/images/slot.jpg");
        _origin.Release();
        await busy;
        await Poll.UntilAsync(() => metrics.Refreshes(RefreshResult.Stored) == 1, Bound, "the refresh stored after the slot was free");
        var after = await GetAsync(client, "/images/slot.jpg" + Query);

        Assert.Contains("stale-while-revalidate", stale.CacheStatus, StringComparison.Ordinal);
        Assert.Equal(1, atOriginWhileQueued);
        Assert.Equal((2, "LbProxy; hit"), (_origin.CountOf("/images/slot.jpg"), after.CacheStatus));
        Assert.True(after.N > 2, $"answered the bytes of origin request {after.N}, not the refresh's");
    }

    private static (HotSet HotSet, CacheMetrics Metrics, CacheKey Key) Parts(TestProxy proxy, string path, string query) =>
        (proxy.Services.GetRequiredService<HotSet>(), proxy.Services.GetRequiredService<CacheMetrics>(),
            new CacheKey($"127.0.0.1:{proxy.Address.Port}", path, query, "original"));

    private static HttpClient ManyConnections(TestProxy proxy) =>
        new(new SocketsHttpHandler { UseCookies = false, MaxConnectionsPerServer = 1000 }) { BaseAddress = proxy.Address, Timeout = Bound };

    private static async Task<Answer> GetAsync(HttpClient client, string path)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.TryAddWithoutValidation("Accept", "*/*");
        using var response = await client.SendAsync(request);
        var body = await response.Content.ReadAsByteArrayAsync();
        var cacheStatus = response.Headers.TryGetValues("Cache-Status", out var values) ? string.Join(",", values) : "";
        var n = response.StatusCode == HttpStatusCode.OK ? CountingOrigin.Parse(body).N : 0;
        return new Answer(response.StatusCode, n, cacheStatus, body);
    }

    private sealed record Answer(HttpStatusCode Status, int N, string CacheStatus, byte[] Body);
}
