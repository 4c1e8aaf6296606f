using System.Net;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using LbProxy.Caching;
using LbProxy.Tests.Infrastructure;

namespace LbProxy.Tests.Functional;

/// <summary>
/// The hot set through a real proxy and a real origin that counts requests per key: herds collapsed to one origin
/// request per format class, bodies streamed to the waiters as they arrive, what must never be shared, stale content
/// when the origin fails, purge, conditional and range requests from memory, and the byte limit.
/// </summary>
public sealed class CacheTests : IAsyncLifetime
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    private CountingOrigin _origin = null!;

    public async Task InitializeAsync() => _origin = await CountingOrigin.StartAsync();

    public async Task DisposeAsync() => await _origin.DisposeAsync();

    [Fact]
    public async Task Herd_500ForOneColdImageInOneClass_OneOriginRequest()
    {
        await using var proxy = await TestProxy.StartAsync(CacheConfig.For(_origin.Address));
        using var client = ManyConnections(proxy);
        var hotSet = proxy.Services.GetRequiredService<HotSet>();
        var key = new CacheKey($"127.0.0.1:{proxy.Address.Port}", "/images/herd.jpg", "?hold=1", "avif");

        var requests = Enumerable.Range(0, 500).Select(_ => GetAsync(client, "/images/herd.jpg?hold=1", "image/avif,image/webp,*/*")).ToList();
        await Poll.UntilAsync(() => hotSet.FlightOf(key)?.Waiters == 499, Bound, "499 requests waiting on the first one's origin request",
            () => $"{hotSet.FlightOf(key)?.Waiters} waiting, origin saw {_origin.Requests}");
        _origin.Release();
        var answers = await Task.WhenAll(requests);

        Assert.Equal(1, _origin.CountOf("/images/herd.jpg", "avif"));
        Assert.Equal(1, _origin.Requests);
        Assert.All(answers, static a => Assert.Equal((HttpStatusCode.OK, "avif", 1), (a.Status, a.Format, a.N)));
        Assert.Equal(499, answers.Count(static a => a.CacheStatus.Contains("collapsed", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task Herd_500InThreeClasses_ThreeOriginRequestsAndEachClientItsClass()
    {
        await using var proxy = await TestProxy.StartAsync(CacheConfig.For(_origin.Address));
        using var client = ManyConnections(proxy);
        var hotSet = proxy.Services.GetRequiredService<HotSet>();
        string[] accepts = ["image/avif,image/webp,*/*", "image/webp,*/*", "image/jpeg,*/*;q=0.8"];
        string[] classes = ["avif", "webp", "original"];
        var keys = classes.Select(c => new CacheKey($"127.0.0.1:{proxy.Address.Port}", "/images/mixed.jpg", "?hold=1", c)).ToList();

        var requests = Enumerable.Range(0, 500).Select(i => (Class: classes[i % 3], Task: GetAsync(client, "/images/mixed.jpg?hold=1", accepts[i % 3]))).ToList();
        await Poll.UntilAsync(() => keys.Sum(k => hotSet.FlightOf(k)?.Waiters ?? 0) == 497, Bound, "497 requests waiting on three origin requests",
            () => $"{keys.Sum(k => hotSet.FlightOf(k)?.Waiters ?? 0)} waiting, origin saw {_origin.Requests}");
        _origin.Release();
        await Task.WhenAll(requests.Select(static r => r.Task));

        Assert.Equal(3, _origin.Requests);
        Assert.All(classes, c => Assert.Equal(1, _origin.CountOf("/images/mixed.jpg", c)));
        Assert.All(requests, static r => Assert.Equal((HttpStatusCode.OK, r.Class), (r.Task.Result.Status, r.Task.Result.Format)));
    }

    [Fact]
    public async Task Herd_WaitersReceiveTheFirstBytesBeforeTheOriginSendsTheRest()
    {
        await using var proxy = await TestProxy.StartAsync(CacheConfig.For(_origin.Address));
        using var client = ManyConnections(proxy);
        const int Size = 200_000;
        var path = $"/images/stream.jpg?half=1&size={Size}";
        using var first = await client.SendAsync(Get(path, "*/*"), HttpCompletionOption.ResponseHeadersRead);
        await Poll.UntilAsync(() => _origin.Requests == 1, Bound, "the origin request");

        var followers = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => client.SendAsync(Get(path, "*/*"), HttpCompletionOption.ResponseHeadersRead)));
        using var read = new CancellationTokenSource(Bound);
        var streams = await Task.WhenAll(followers.Select(r => r.Content.ReadAsStreamAsync(read.Token)));
        var halves = await Task.WhenAll(streams.Select(async stream =>
        {
            var buffer = new byte[Size / 2];
            await stream.ReadExactlyAsync(buffer, read.Token);
            return buffer;
        }));

        // Every follower holds half the body while the origin has not sent the rest: streamed, not stored first.
        Assert.Equal(1, _origin.Requests);
        var expected = CountingOrigin.BodyOf("original", "/images/stream.jpg", 1, Size);
        Assert.All(halves, h => Assert.Equal(expected.AsSpan(0, Size / 2).ToArray(), h));
        _origin.ReleaseRest();
        foreach (var stream in streams)
        {
            using var rest = new MemoryStream();
            await stream.CopyToAsync(rest, read.Token);
            Assert.Equal(expected.AsSpan(Size / 2).ToArray(), rest.ToArray());
        }

        foreach (var follower in followers)
        {
            Assert.Contains("collapsed", string.Join(",", follower.Headers.GetValues("Cache-Status")), StringComparison.Ordinal);
            follower.Dispose();
        }

        Assert.Equal(1, _origin.Requests);
    }

    [Theory]
    [InlineData("cc=private,max-age=60", null)]
    [InlineData("cc=no-store", null)]
    [InlineData("cc=no-cache", null)]
    [InlineData("cookie=1", null)]
    [InlineData("vary=Accept,Cookie", null)]
    [InlineData("", "Authorization")]
    [InlineData("", "Cookie")]
    public async Task NotForSharing_NeverAnsweredFromMemoryToAnotherClient(string query, string? credential)
    {
        await using var proxy = await TestProxy.StartAsync(CacheConfig.For(_origin.Address));
        using var client = ManyConnections(proxy);
        var path = $"/images/private.jpg?{query}";

        // Sequential: each is its own origin request, with its own bytes.
        var one = await GetAsync(client, path, "*/*", credential);
        var two = await GetAsync(client, path, "*/*", credential);
        var anonymous = await GetAsync(client, path, "*/*");

        Assert.Equal([1, 2, 3], new[] { one.N, two.N, anonymous.N });
        Assert.Equal(3, _origin.Requests);

        // A herd: the waiters go to the origin themselves, none gets another's response.
        _origin.Hold();
        var herd = Enumerable.Range(0, 20).Select(_ => GetAsync(client, path + "&hold=1", "*/*", credential)).ToList();
        await Poll.UntilAsync(() => _origin.Requests >= 4, Bound, "the herd's first origin request");
        _origin.Release();
        var answers = await Task.WhenAll(herd);

        Assert.Equal(23, _origin.Requests);
        Assert.Equal(20, answers.Select(static a => a.N).Distinct().Count());
        Assert.DoesNotContain(answers, static a => a.CacheStatus.Contains("hit", StringComparison.Ordinal));
    }

    [Fact]
    public async Task StoredResponse_HitCarriesAgeCacheStatusAndVaryAccept()
    {
        await using var proxy = await TestProxy.StartAsync(CacheConfig.For(_origin.Address));
        using var client = ManyConnections(proxy);

        using var miss = await client.SendAsync(Get("/images/hit.jpg", "image/webp,*/*"));
        using var hit = await client.SendAsync(Get("/images/hit.jpg", "image/webp,*/*"));
        using var plain = await client.SendAsync(Get("/plain/hit.jpg", "image/webp,*/*"));

        Assert.Equal("LbProxy; fwd=uri-miss; fwd-status=200; stored", string.Join(",", miss.Headers.GetValues("Cache-Status")));
        Assert.Equal("LbProxy; hit", string.Join(",", hit.Headers.GetValues("Cache-Status")));
        Assert.True(hit.Headers.Age is { } age && age >= TimeSpan.Zero && age < TimeSpan.FromSeconds(60), $"Age {hit.Headers.Age}");
        Assert.Contains("Accept", hit.Headers.Vary);
        Assert.Equal(await miss.Content.ReadAsByteArrayAsync(), await hit.Content.ReadAsByteArrayAsync());
        Assert.Equal("image/webp", hit.Content.Headers.ContentType?.MediaType);
        // Each answer carries its own request's id (the access log's), never the one of the miss that stored it.
        Assert.NotEqual(miss.Headers.GetValues("X-Request-Id").Single(), hit.Headers.GetValues("X-Request-Id").Single());
        Assert.False(plain.Headers.Contains("Cache-Status")); // a route without caching: untouched
        Assert.Equal(1, _origin.CountOf("/images/hit.jpg", "webp"));
        Assert.Equal(2, _origin.Requests);
    }

    [Fact]
    public async Task AccessLog_CacheField_SaysWhatTheHotSetDid()
    {
        var json = JsonNode.Parse(CacheConfig.For(_origin.Address))!;
        json["LbProxy"]!["AccessLog"] = new JsonObject { ["Template"] = "{status} {path} {cache}" };
        await using var proxy = await TestProxy.StartAsync(json.ToJsonString());
        using var client = ManyConnections(proxy);

        await GetAsync(client, "/images/log.jpg", "*/*");
        await GetAsync(client, "/images/log.jpg", "*/*");
        await GetAsync(client, "/images/log.jpg", "*/*", "Authorization");
        await GetAsync(client, "/plain/log.jpg", "*/*");
        var lines = await proxy.AccessLog.WaitForAsync(4);

        Assert.Equal(["200 /images/log.jpg miss", "200 /images/log.jpg hit", "200 /images/log.jpg bypass", "200 /plain/log.jpg "], lines);
    }

    [Fact]
    public async Task ConditionalAndRange_AnsweredFromMemory()
    {
        await using var proxy = await TestProxy.StartAsync(CacheConfig.For(_origin.Address));
        using var client = ManyConnections(proxy);
        var stored = await GetAsync(client, "/images/cond.jpg", "*/*");

        using var ifNoneMatch = Get("/images/cond.jpg", "*/*");
        ifNoneMatch.Headers.TryAddWithoutValidation("If-None-Match", "\"original-/images/cond.jpg\"");
        using var notModified = await client.SendAsync(ifNoneMatch);
        using var ifModifiedSince = Get("/images/cond.jpg", "*/*");
        ifModifiedSince.Headers.IfModifiedSince = CountingOrigin.LastModified.AddDays(1);
        using var notModifiedSince = await client.SendAsync(ifModifiedSince);
        using var otherTag = Get("/images/cond.jpg", "*/*");
        otherTag.Headers.TryAddWithoutValidation("If-None-Match", "\"something-else\"");
        using var modified = await client.SendAsync(otherTag);
        using var range = Get("/images/cond.jpg", "*/*");
        range.Headers.Range = new RangeHeaderValue(100, 199);
        using var partial = await client.SendAsync(range);
        using var outside = Get("/images/cond.jpg", "*/*");
        outside.Headers.Range = new RangeHeaderValue(100_000, null);
        using var unsatisfiable = await client.SendAsync(outside);

        Assert.Equal(HttpStatusCode.NotModified, notModified.StatusCode);
        Assert.Equal(HttpStatusCode.NotModified, notModifiedSince.StatusCode);
        Assert.Equal(HttpStatusCode.OK, modified.StatusCode);
        Assert.Equal(HttpStatusCode.PartialContent, partial.StatusCode);
        Assert.Equal("bytes 100-199/4096", partial.Content.Headers.ContentRange?.ToString());
        Assert.Equal(stored.Body.AsSpan(100, 100).ToArray(), await partial.Content.ReadAsByteArrayAsync());
        Assert.Equal(HttpStatusCode.RequestedRangeNotSatisfiable, unsatisfiable.StatusCode);
        Assert.Equal(1, _origin.Requests);
    }

    [Fact]
    public async Task StaleWithValidator_RevalidatedUpstream_A304RefreshesIt()
    {
        var cache = new JsonObject { ["MaxStaleWhileRevalidate"] = "00:00:00" };
        await using var proxy = await TestProxy.StartAsync(CacheConfig.For(_origin.Address, cache));
        using var client = ManyConnections(proxy);
        var first = await GetAsync(client, "/images/reval.jpg?cc=max-age=1", "*/*");
        var hotSet = proxy.Services.GetRequiredService<HotSet>();
        var key = new CacheKey($"127.0.0.1:{proxy.Address.Port}", "/images/reval.jpg", "?cc=max-age=1", "original");
        await Poll.UntilAsync(() => hotSet.Get(key)?.StalenessAt(DateTimeOffset.UtcNow) > TimeSpan.Zero, Bound, "the entry going stale");

        var revalidated = await GetAsync(client, "/images/reval.jpg?cc=max-age=1", "*/*");
        var hit = await GetAsync(client, "/images/reval.jpg?cc=max-age=1", "*/*");

        Assert.Equal(2, _origin.Requests); // the first, then the revalidation (answered 304 by the origin)
        Assert.Equal((HttpStatusCode.OK, 1), (revalidated.Status, revalidated.N)); // the stored bytes, refreshed
        Assert.Equal(first.Body, revalidated.Body);
        Assert.Contains("fwd-status=304", revalidated.CacheStatus, StringComparison.Ordinal);
        Assert.Equal(("LbProxy; hit", 1), (hit.CacheStatus, hit.N));
    }

    [Fact]
    public async Task OriginFailsOrDies_StoredKeysAnsweredStale_NeverStoredKeysGetThe503()
    {
        var cache = new JsonObject { ["MaxStaleWhileRevalidate"] = "00:00:00", ["MaxStaleIfError"] = "01:00:00" };
        await using var proxy = await TestProxy.StartAsync(CacheConfig.For(_origin.Address, cache));
        using var client = ManyConnections(proxy);
        const int Keys = 20;
        for (var i = 0; i < Keys; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await GetAsync(client, $"/images/s{i}.jpg?cc=max-age=1", "*/*")).Status);
        }

        var hotSet = proxy.Services.GetRequiredService<HotSet>();
        var key = new CacheKey($"127.0.0.1:{proxy.Address.Port}", $"/images/s{Keys - 1}.jpg", "?cc=max-age=1", "original");
        await Poll.UntilAsync(() => hotSet.Get(key)?.StalenessAt(DateTimeOffset.UtcNow) > TimeSpan.Zero, Bound, "the entries going stale");

        // The origin answers 500: the stale entry is answered instead.
        _origin.Failing = true;
        var on500 = await GetAsync(client, "/images/s0.jpg?cc=max-age=1", "*/*");
        Assert.Equal((HttpStatusCode.OK, 1), (on500.Status, on500.N));
        Assert.Contains("detail=stale-if-error", on500.CacheStatus, StringComparison.Ordinal);

        // The origin dies: 1,000 requests over the stored keys, 50 at a time.
        await _origin.DisposeAsync();
        var statuses = new List<HttpStatusCode>();
        for (var round = 0; round < 20; round++)
        {
            var batch = await Task.WhenAll(Enumerable.Range(0, 50).Select(i => GetAsync(client, $"/images/s{i % Keys}.jpg?cc=max-age=1", "*/*")));
            statuses.AddRange(batch.Select(static a => a.Status));
        }

        var never = await GetAsync(client, "/images/never.jpg", "*/*");

        Assert.Equal(1000, statuses.Count);
        Assert.True(statuses.Count(static s => s == HttpStatusCode.OK) >= 999, $"{statuses.Count(static s => s == HttpStatusCode.OK)} of 1000 answered 200");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, never.Status);
        Assert.True(proxy.Services.GetRequiredService<CacheMetrics>().Total(CacheResult.Stale) >= 999);
        _origin = await CountingOrigin.StartAsync(); // for DisposeAsync
    }

    [Fact]
    public async Task Purge_OnePathDropsEveryClass_AllDropsEverything_Counted()
    {
        await using var proxy = await TestProxy.StartAsync(CacheConfig.For(_origin.Address));
        using var client = ManyConnections(proxy);
        string[] accepts = ["image/avif,*/*", "image/webp,*/*", "*/*"];
        foreach (var accept in accepts)
        {
            await GetAsync(client, "/images/p.jpg", accept);
        }

        await GetAsync(client, "/images/other.jpg", "*/*");
        Assert.Equal(4, _origin.Requests);

        using var purgePath = await client.DeleteAsync("/_lb/cache?path=/images/p.jpg");
        var purgedPath = JsonNode.Parse(await purgePath.Content.ReadAsStringAsync())!;
        foreach (var accept in accepts)
        {
            await GetAsync(client, "/images/p.jpg", accept);
        }

        var other = await GetAsync(client, "/images/other.jpg", "*/*");
        using var purgeAll = await client.DeleteAsync("/_lb/cache");
        var purgedAll = JsonNode.Parse(await purgeAll.Content.ReadAsStringAsync())!;
        await GetAsync(client, "/images/other.jpg", "*/*");
        using var badPath = await client.DeleteAsync("/_lb/cache?path=images");
        var scrape = await MetricsScrape.TakeAsync(client);

        Assert.Equal(HttpStatusCode.OK, purgePath.StatusCode);
        Assert.Equal(3, (int)purgedPath["purged"]!);
        Assert.Equal("LbProxy; hit", other.CacheStatus);
        Assert.Equal(4, (int)purgedAll["purged"]!);
        Assert.Equal(8, _origin.Requests);
        Assert.Equal(HttpStatusCode.BadRequest, badPath.StatusCode);
        Assert.Equal(1, scrape.Single("lbproxy_cache_purges_total", ("scope", "path")));
        Assert.Equal(1, scrape.Single("lbproxy_cache_purges_total", ("scope", "all")));
        Assert.Equal(1, scrape.Single("lbproxy_cache_requests_total", ("route", "images"), ("result", "hit"))); // other.jpg, once
        Assert.Equal(8, scrape.Single("lbproxy_cache_requests_total", ("route", "images"), ("result", "miss")));
        Assert.Equal(1, scrape.Single("lbproxy_cache_entries")); // other.jpg, stored again after the purge of all
        Assert.True(scrape.Single("lbproxy_cache_bytes") > 4096);
    }

    [Fact]
    public async Task RequestSeries_OfEveryCachedRoute_At0OnceTheConfigIsApplied()
    {
        await using var proxy = await TestProxy.StartAsync(CacheConfig.For(_origin.Address));
        using var client = ManyConnections(proxy);

        var scrape = await MetricsScrape.TakeAsync(client);

        Assert.All(CacheResult.All, r => Assert.Equal(0, scrape.Single("lbproxy_cache_requests_total", ("route", "images"), ("result", r.Result))));
        Assert.Empty(scrape.Where("lbproxy_cache_requests_total", ("route", "plain"))); // not cached: no series
        Assert.All(CacheMetrics.RefreshResults, r => Assert.Equal(0, scrape.Single("lbproxy_cache_refreshes_total", ("result", r))));
    }

    [Fact]
    public async Task FillingFourTimesTheLimit_BytesNeverAboveIt_LargeObjectsStreamedNotStored()
    {
        const long Limit = 1024 * 1024;
        var cache = new JsonObject { ["SizeLimitBytes"] = Limit, ["MaxObjectBytes"] = 64 * 1024 };
        await using var proxy = await TestProxy.StartAsync(CacheConfig.For(_origin.Address, cache));
        using var client = ManyConnections(proxy);
        var hotSet = proxy.Services.GetRequiredService<HotSet>();
        long peak = 0;
        for (var i = 0; i < 4 * 64; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await GetAsync(client, $"/images/fill{i}.jpg?size=16000", "*/*")).Status);
            peak = Math.Max(peak, hotSet.Bytes);
        }

        var large1 = await GetAsync(client, "/images/large.jpg?size=100000", "*/*");
        var large2 = await GetAsync(client, "/images/large.jpg?size=100000", "*/*");
        var chunked1 = await GetAsync(client, "/images/chunked.jpg?size=100000&chunked=1", "*/*");
        var chunked2 = await GetAsync(client, "/images/chunked.jpg?size=100000&chunked=1", "*/*");

        Assert.True(peak <= Limit, $"peak {peak} over the limit {Limit}");
        Assert.True(peak > Limit / 2, $"peak {peak}: the hot set was barely used");
        Assert.True(hotSet.Evictions > 100, $"{hotSet.Evictions} evictions");
        Assert.Equal((100_000, 100_000), (large1.Body.Length, large2.Body.Length));
        Assert.Equal((1, 2), (large1.N - 256, large2.N - 256)); // both went to the origin
        Assert.Equal(100_000, chunked2.Body.Length);
        Assert.Equal(chunked1.N + 1, chunked2.N);
    }

    [Fact]
    public async Task Reload_TurnsARouteOnAndShrinksTheLimit_Live()
    {
        await using var proxy = await TestProxy.StartAsync(
            CacheConfig.For(_origin.Address, routeMetadata: new JsonObject { ["Cache.Enabled"] = "false" }), TestProxy.FastReload);
        using var client = ManyConnections(proxy);
        var off = await GetAsync(client, "/images/reload.jpg", "*/*");

        await File.WriteAllTextAsync(proxy.ConfigPath, CacheConfig.For(_origin.Address));
        await Poll.UntilAsync(async () => (await GetAsync(client, "/images/reload.jpg", "*/*")).CacheStatus.Length > 0, Bound, "the route cached after the reload");
        for (var i = 0; i < 20; i++)
        {
            await GetAsync(client, $"/images/r{i}.jpg", "*/*");
        }

        var hotSet = proxy.Services.GetRequiredService<HotSet>();
        var before = hotSet.Bytes;
        await File.WriteAllTextAsync(proxy.ConfigPath, CacheConfig.For(_origin.Address, new JsonObject { ["SizeLimitBytes"] = 20_000 }));
        await Poll.UntilAsync(() => hotSet.Limit == 20_000, Bound, "the smaller limit applied");

        Assert.Equal("", off.CacheStatus);
        Assert.True(before > 20 * 4096, $"{before} bytes before");
        Assert.True(hotSet.Bytes <= 20_000, $"{hotSet.Bytes} bytes after the reload");
    }

    [Fact]
    public async Task BadCacheSettings_AreRefusedWithTheirPlace()
    {
        var badRoute = await Assert.ThrowsAsync<InvalidOperationException>(() =>
            TestProxy.StartAsync(CacheConfig.For(_origin.Address, routeMetadata: new JsonObject { ["Cache.Enabled"] = "yes" })));
        var badOption = await Assert.ThrowsAsync<InvalidOperationException>(() =>
            TestProxy.StartAsync(CacheConfig.For(_origin.Address, new JsonObject { ["SizeLimitBytes"] = -1 })));

        Assert.Contains("Cache.Enabled must be true or false, not 'yes'", badRoute.Message, StringComparison.Ordinal);
        Assert.Contains("ReverseProxy:Routes:images:Metadata", badRoute.Message, StringComparison.Ordinal);
        Assert.Contains("SizeLimitBytes", badOption.Message, StringComparison.Ordinal);
    }

    private static HttpClient ManyConnections(TestProxy proxy) =>
        new(new SocketsHttpHandler { UseCookies = false, MaxConnectionsPerServer = 1000 }) { BaseAddress = proxy.Address, Timeout = Bound };

    private static HttpRequestMessage Get(string path, string accept, string? credential = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.TryAddWithoutValidation("Accept", accept);
        if (credential == "Authorization")
        {
            request.Headers.TryAddWithoutValidation("Authorization", "Bearer someone");
        }
        else if (credential == "Cookie")
        {
            request.Headers.TryAddWithoutValidation("Cookie", "session=someone");
        }

        return request;
    }

    private static async Task<Answer> GetAsync(HttpClient client, string path, string accept, string? credential = null)
    {
        using var response = await client.SendAsync(Get(path, accept, credential));
        var body = await response.Content.ReadAsByteArrayAsync();
        var cacheStatus = response.Headers.TryGetValues("Cache-Status", out var values) ? string.Join(",", values) : "";
        var (format, n) = response.StatusCode == HttpStatusCode.OK ? CountingOrigin.Parse(body) : ("", 0);
        return new Answer(response.StatusCode, format, n, cacheStatus, body);
    }

    private sealed record Answer(HttpStatusCode Status, string Format, int N, string CacheStatus, byte[] Body);
}
