using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using LbProxy.SampleOrigin;
using LbProxy.Tests.Infrastructure;

namespace LbProxy.Tests.Functional;

/// <summary>
/// Concurrency limits per destination with a queue, through a real proxy to real converter origins (a fixed pool of
/// workers and a service time per class), counted at the origin.
/// </summary>
public sealed class AdmissionTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Burst_OriginNeverSeesMoreThanTheLimit_AndEveryQueuedRequestIsServed()
    {
        await using var origins = await ConvertersAsync(2, workers: 16, originalMs: 20);
        await using var proxy = await TestProxy.StartAsync(Config(origins, Limits(3, maxQueue: 500)));

        var statuses = await BurstAsync(proxy.Client, 200, i => $"/images/{i}.jpg");

        Assert.All(statuses, static s => Assert.Equal(HttpStatusCode.OK, s));
        Assert.Equal(200, origins.All.Sum(static o => o.Stats.RequestsOf("original")));
        Assert.All(origins.All, static o => Assert.InRange(o.Stats.MaxInFlight, 1, 3));
        Assert.Contains(origins.All, static o => o.Stats.MaxInFlight == 3); // the limit was reached: the burst queued
        var scrape = await MetricsScrape.TakeAsync(proxy.Client);
        Assert.Equal(0, scrape.Sum("lbproxy_shed_requests_total", ("cluster", "images")));
        Assert.True(scrape.Sum("lbproxy_admission_queue_wait_seconds_count", ("cluster", "images")) > 0, "some requests waited");
    }

    [Fact]
    public async Task QueueFull_Is503WithRetryAfterAtOnce_AndCounted()
    {
        await using var origins = await ConvertersAsync(1, workers: 4, originalMs: 1500);
        await using var proxy = await TestProxy.StartAsync(Config(origins, Limits(1, maxQueue: 2, queueTimeout: "00:00:09.500")));

        var holder = proxy.Client.GetAsync("/images/hold.jpg");
        await Poll.UntilAsync(() => origins[0].Stats.InFlight == 1, Bound, "the first request at the origin");
        var queued = new[] { proxy.Client.GetAsync("/images/q1.jpg"), proxy.Client.GetAsync("/images/q2.jpg") };
        await Poll.UntilAsync(async () => await QueueLengthAsync(proxy) == 2, Bound, "two requests queued");

        using var refused = await proxy.Client.GetAsync("/images/refused.jpg");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
        Assert.Equal("10", refused.Headers.GetValues("Retry-After").Single()); // the queue timeout, rounded up to whole seconds
        Assert.Equal("no-store", refused.Headers.CacheControl?.ToString());
        Assert.Contains("queue is full", await refused.Content.ReadAsStringAsync());
        Assert.False(holder.IsCompleted, "refused while the slot was still held: at once, not after a wait");
        Assert.Equal(1, origins[0].Stats.RequestsOf("original"));
        using (var held = await holder)
        {
            Assert.Equal(HttpStatusCode.OK, held.StatusCode);
        }

        foreach (var response in await Task.WhenAll(queued))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            response.Dispose();
        }

        Assert.Equal(3, origins[0].Stats.RequestsOf("original"));
        Assert.Equal(1, origins[0].Stats.MaxInFlight);
        var scrape = await MetricsScrape.TakeAsync(proxy.Client);
        Assert.Equal(1, scrape.Sum("lbproxy_shed_requests_total", ("cluster", "images"), ("reason", "queue_full")));
    }

    [Fact]
    public async Task QueueTimeout_Is503WithRetryAfter_AndNeverReachesTheOrigin()
    {
        await using var origins = await ConvertersAsync(1, workers: 4, originalMs: 2000);
        await using var proxy = await TestProxy.StartAsync(
            Config(origins, Limits(1, maxQueue: 10, queueTimeout: "00:00:00.300"), accessLogTemplate: "{status} {shed}"));

        var holder = proxy.Client.GetAsync("/images/hold.jpg");
        await Poll.UntilAsync(() => origins[0].Stats.InFlight == 1, Bound, "the first request at the origin");

        using var timedOut = await proxy.Client.GetAsync("/images/late.jpg");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, timedOut.StatusCode);
        Assert.Equal("1", timedOut.Headers.GetValues("Retry-After").Single());
        Assert.Contains("waited too long", await timedOut.Content.ReadAsStringAsync());
        using (var held = await holder)
        {
            Assert.Equal(HttpStatusCode.OK, held.StatusCode);
        }

        // The slot came free after the timeout: the timed-out request was not forwarded late.
        Assert.Equal(1, origins[0].Stats.RequestsOf("original"));
        Assert.Equal(0, await QueueLengthAsync(proxy));
        var scrape = await MetricsScrape.TakeAsync(proxy.Client);
        Assert.Equal(1, scrape.Sum("lbproxy_shed_requests_total", ("cluster", "images"), ("reason", "queue_timeout")));
        var lines = await proxy.AccessLog.WaitForAsync(2);
        Assert.Contains("503 queue_timeout", lines);
        Assert.Contains("200 ", lines);
    }

    [Fact]
    public async Task ClientGoneWhileQueued_LeavesAtOnce_NeverReachesTheOrigin_CountedClientGone()
    {
        await using var origins = await ConvertersAsync(1, workers: 4, originalMs: 1500);
        await using var proxy = await TestProxy.StartAsync(Config(origins, Limits(1, maxQueue: 10, queueTimeout: "00:00:20")));

        var holder = proxy.Client.GetAsync("/images/hold.jpg");
        await Poll.UntilAsync(() => origins[0].Stats.InFlight == 1, Bound, "the first request at the origin");
        using var leave = new CancellationTokenSource();
        var leaving = proxy.Client.GetAsync("/images/leaving.jpg", leave.Token);
        await Poll.UntilAsync(async () => await QueueLengthAsync(proxy) == 1, Bound, "the second request queued");

        await leave.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => leaving);
        await Poll.UntilAsync(async () => await QueueLengthAsync(proxy) == 0, Bound, "the gone client out of the queue");
        Assert.False(holder.IsCompleted, "left the queue while the slot was still held: at once");
        using (var held = await holder)
        {
            Assert.Equal(HttpStatusCode.OK, held.StatusCode);
        }

        Assert.Equal(1, origins[0].Stats.RequestsOf("original"));
        var shed = await Poll.UntilAsync(
            async () => (await MetricsScrape.TakeAsync(proxy.Client)).Sum("lbproxy_shed_requests_total", ("cluster", "images"), ("reason", "client_gone")),
            static n => n >= 1, Bound, "client_gone counted");
        Assert.Equal(1, shed);
    }

    [Fact]
    public async Task Priority_HighRouteQueuedLater_IsServedBeforeEarlierLowOnes()
    {
        // The holder asks for WebP, which this origin takes 3 s to make: long enough to queue behind it on a loaded machine.
        await using var origins = await ConvertersAsync(1, workers: 1, originalMs: 150, webpMs: 3000);
        var config = JsonNode.Parse(new TestConfig()
            .Route("low", "images", "/low/{**path}")
            .Route("high", "images", "/high/{**path}")
            .Cluster("images", origins.All, metadata: Limits(1, maxQueue: 100, queueTimeout: "00:00:20"))
            .ToJson())!;
        config["ReverseProxy"]!["Routes"]!["high"]!["Metadata"] = new JsonObject { ["Priority"] = "10" };
        await using var proxy = await TestProxy.StartAsync(config.ToJsonString());

        var order = new System.Collections.Concurrent.ConcurrentQueue<string>();
        async Task GetAsync(string path, string? accept = null)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, path);
            if (accept is not null)
            {
                request.Headers.TryAddWithoutValidation("Accept", accept);
            }

            using var response = await proxy.Client.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            order.Enqueue(path);
        }

        var holder = GetAsync("/low/hold.jpg", "image/webp");
        await Poll.UntilAsync(() => origins[0].Stats.InFlight == 1, Bound, "the first request at the origin");
        // One at a time, each queued before the next is sent: their order of arrival is the order asserted below.
        var low = new List<Task>();
        for (var i = 0; i < 3; i++)
        {
            low.Add(GetAsync($"/low/{i}.jpg"));
            var queued = i + 1;
            await Poll.UntilAsync(async () => await QueueLengthAsync(proxy) == queued, Bound, $"low request {i} queued");
        }

        var high = Enumerable.Range(0, 3).Select(i => GetAsync($"/high/{i}.jpg")).ToList();
        await Poll.UntilAsync(async () => await QueueLengthAsync(proxy) == 6, Bound, "three high requests queued behind them");

        await Task.WhenAll([holder, .. low, .. high]);

        var served = order.ToList();
        Assert.Equal(7, served.Count);
        Assert.Equal("/low/hold.jpg", served[0]);
        Assert.All(served.Skip(1).Take(3), static p => Assert.StartsWith("/high/", p));
        Assert.Equal(["/low/0.jpg", "/low/1.jpg", "/low/2.jpg"], served.Skip(4)); // first come, first served within a priority
    }

    [Fact]
    public async Task ConsistentHash_SpillsToTheNextOnlyWhileTheOwnerIsFull()
    {
        await using var origins = await ConvertersAsync(3, workers: 4, originalMs: 0);
        await using var proxy = await TestProxy.StartAsync(Config(origins, Limits(1, maxQueue: 10), policy: "ConsistentHash"));
        const string Path = "/images/owned.jpg";
        var owner = await TestOrigins.OriginOfAsync(proxy.Client, Path);
        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(owner, await TestOrigins.OriginOfAsync(proxy.Client, Path)); // not full: always the owner
        }

        var ownerOrigin = origins.All.Single(o => o.Id == owner);
        ownerOrigin.Behavior.DelayMs = 1500;
        var holder = proxy.Client.GetAsync(Path);
        await Poll.UntilAsync(() => ownerOrigin.RequestCount == 7, Bound, "the holding request at the owner");

        var spilled = await TestOrigins.OriginOfAsync(proxy.Client, Path);
        var again = await TestOrigins.OriginOfAsync(proxy.Client, Path);

        Assert.NotEqual(owner, spilled);
        Assert.Equal(spilled, again); // the next in rank for this key, not any destination
        Assert.False(holder.IsCompleted);
        using (var held = await holder)
        {
            Assert.Equal(HttpStatusCode.OK, held.StatusCode);
        }

        Assert.Equal(owner, await TestOrigins.OriginOfAsync(proxy.Client, Path)); // back on the owner once it has a slot
    }

    [Fact]
    public async Task Retry_TakesASlotLikeAnyRequest()
    {
        await using var origins = await ConvertersAsync(2, workers: 4, originalMs: 1500);
        origins[1].Behavior.DropConnections = true; // every forward to origin-1 fails after sending: retried on origin-0
        await using var proxy = await TestProxy.StartAsync(Config(origins, Limits(1, maxQueue: 10, queueTimeout: "00:00:20"), policy: "RoundRobin"));

        var holder = proxy.Client.GetAsync("/images/hold.jpg");
        await Poll.UntilAsync(() => origins[0].Stats.InFlight == 1, Bound, "a request holding origin-0's slot");
        var dropsBefore = origins[1].RequestCount;

        using var retried = await proxy.Client.GetAsync("/images/retried.jpg");
        using var held = await holder;

        Assert.Equal(HttpStatusCode.OK, held.StatusCode);
        Assert.Equal(HttpStatusCode.OK, retried.StatusCode);
        Assert.True(origins[1].RequestCount > dropsBefore, "the second request went to origin-1 first");
        Assert.Equal(1, origins[0].Stats.MaxInFlight); // its retry waited for origin-0's slot instead of going over the limit
        Assert.Equal(2, origins[0].Stats.RequestsOf("original"));
    }

    [Fact]
    public async Task Reload_ChangesTheLimitLive()
    {
        await using var origins = await ConvertersAsync(1, workers: 16, originalMs: 50);
        await using var proxy = await TestProxy.StartAsync(Config(origins, Limits(1, maxQueue: 500)), TestProxy.FastReload);
        Assert.All(await BurstAsync(proxy.Client, 20, i => $"/images/a{i}.jpg"), static s => Assert.Equal(HttpStatusCode.OK, s));
        Assert.Equal(1, origins[0].Stats.MaxInFlight);

        await File.WriteAllTextAsync(proxy.ConfigPath, Config(origins, Limits(4, maxQueue: 500)));
        await Poll.UntilAsync(async () => (await AdmissionStatusAsync(proxy))[0]!["destinations"]![0]!["limit"]!.GetValue<int>() == 4,
            Bound, "the new limit applied");
        origins[0].Stats.Reset();
        Assert.All(await BurstAsync(proxy.Client, 40, i => $"/images/b{i}.jpg"), static s => Assert.Equal(HttpStatusCode.OK, s));

        Assert.InRange(origins[0].Stats.MaxInFlight, 2, 4);
    }

    [Fact]
    public async Task NoLimits_BehaviourUnchanged_NoQueueNoSeries()
    {
        await using var origins = await ConvertersAsync(1, workers: 64, originalMs: 200);
        await using var proxy = await TestProxy.StartAsync(Config(origins, limits: null));

        Assert.All(await BurstAsync(proxy.Client, 30, i => $"/images/{i}.jpg"), static s => Assert.Equal(HttpStatusCode.OK, s));

        Assert.True(origins[0].Stats.MaxInFlight > 4, $"an unlimited burst reaches the origin at once: {origins[0].Stats.MaxInFlight}");
        Assert.Empty((await AdmissionStatusAsync(proxy)).AsArray());
        var scrape = await MetricsScrape.TakeAsync(proxy.Client);
        Assert.Empty(scrape.Where("lbproxy_admission_limit"));
        Assert.Empty(scrape.Where("lbproxy_shed_requests_total"));
    }

    [Fact]
    public async Task Status_AndMetrics_ShowSettingsInFlightLimitAndQueue()
    {
        await using var origins = await ConvertersAsync(2, workers: 4, originalMs: 1500);
        await using var proxy = await TestProxy.StartAsync(Config(origins, Limits(1, maxQueue: 7, queueTimeout: "00:00:20")));

        var requests = Enumerable.Range(0, 3).Select(i => proxy.Client.GetAsync($"/images/{i}.jpg")).ToList();
        await Poll.UntilAsync(async () => await QueueLengthAsync(proxy) == 1, Bound, "two in flight and one queued");

        var cluster = (await AdmissionStatusAsync(proxy))[0]!;
        var scrape = await MetricsScrape.TakeAsync(proxy.Client);
        foreach (var response in await Task.WhenAll(requests))
        {
            response.Dispose();
        }

        Assert.Equal("images", cluster["id"]!.GetValue<string>());
        Assert.Equal(7, cluster["maxQueue"]!.GetValue<int>());
        Assert.Equal(20, cluster["queueTimeoutSeconds"]!.GetValue<double>());
        Assert.All(cluster["destinations"]!.AsArray(), static d =>
        {
            Assert.Equal(1, d!["inFlight"]!.GetValue<int>());
            Assert.Equal(1, d["limit"]!.GetValue<int>());
        });
        Assert.Equal(1, scrape.Sum("lbproxy_admission_queue_length", ("cluster", "images")));
        Assert.Equal(2, scrape.Sum("lbproxy_admission_in_flight", ("cluster", "images")));
        Assert.Equal(2, scrape.Sum("lbproxy_admission_limit", ("cluster", "images")));
        Assert.Equal(3, scrape.Where("lbproxy_shed_requests_total", ("cluster", "images")).Count()); // started at 0
    }

    [Theory]
    [InlineData("Concurrency.MaxPerDestination", "0", "Concurrency.MaxPerDestination must be")]
    [InlineData("Concurrency.MaxPerDestinaton", "4", "is not a concurrency setting")]
    [InlineData("Concurrency.MaxQueue", "-1", "Concurrency.MaxQueue must be")]
    [InlineData("Concurrency.QueueTimeout", "soon", "Concurrency.QueueTimeout must be")]
    [InlineData("Concurrency.Adaptive", "yes", "Concurrency.Adaptive must be")]
    [InlineData("Concurrency.DegradeFormats", "1", "Concurrency.DegradeFormats must be")]
    public async Task BadConcurrencyMetadata_IsRefusedAtItsPlace(string key, string value, string expected)
    {
        var metadata = Limits(4, maxQueue: 10);
        metadata[key] = value;
        var json = new TestConfig().Route("images", "images", "/images/{**path}")
            .Cluster("images", [("a", new Uri("http://127.0.0.1:1"))], metadata: metadata).ToJson();
        var line = LineOf(json, $"\"{key}\"");

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => TestProxy.StartAsync(json));

        Assert.Contains(expected, error.Message);
        Assert.Contains($"yarp.json:{line}:", error.Message);
        Assert.Contains($"ReverseProxy:Clusters:images:Metadata:{key}", error.Message);
    }

    [Fact]
    public async Task BadRoutePriority_IsRefusedAtItsPlace()
    {
        var config = JsonNode.Parse(new TestConfig().Route("images", "images", "/images/{**path}")
            .Cluster("images", [("a", new Uri("http://127.0.0.1:1"))]).ToJson())!;
        config["ReverseProxy"]!["Routes"]!["images"]!["Metadata"] = new JsonObject { ["Priority"] = "high" };
        var json = config.ToJsonString(new JsonSerializerOptions { WriteIndented = true });

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => TestProxy.StartAsync(json));

        Assert.Contains("Priority must be a whole number", error.Message);
        Assert.Contains($"yarp.json:{LineOf(json, "\"Priority\"")}:", error.Message);
    }

    internal static JsonObject Limits(int max, int maxQueue, string queueTimeout = "00:00:02", bool adaptive = false, bool degrade = false)
    {
        var metadata = new JsonObject
        {
            ["Concurrency.MaxPerDestination"] = max.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Concurrency.MaxQueue"] = maxQueue.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Concurrency.QueueTimeout"] = queueTimeout,
        };
        if (adaptive)
        {
            metadata["Concurrency.Adaptive"] = "true";
        }

        if (degrade)
        {
            metadata["Concurrency.DegradeFormats"] = "true";
        }

        return metadata;
    }

    internal static string Config(TestOrigins origins, JsonObject? limits, string policy = "PowerOfTwoChoices", string? accessLogTemplate = null)
    {
        var config = new TestConfig()
            .Route("images", "images", "/images/{**path}")
            .Cluster("images", origins.All, policy: policy, metadata: limits);
        if (accessLogTemplate is not null)
        {
            config.LbProxy("AccessLog", new JsonObject { ["Template"] = accessLogTemplate });
        }

        return config.ToJson();
    }

    internal static async Task<TestOrigins> ConvertersAsync(int count, int workers, int originalMs, int webpMs = 0, int avifMs = 0)
    {
        var settings = new ConverterSettings(workers, new Dictionary<string, int> { ["original"] = originalMs, ["webp"] = webpMs, ["avif"] = avifMs });
        var list = new List<SampleOriginServer>();
        for (var i = 0; i < count; i++)
        {
            list.Add(await SampleOriginServer.StartAsync($"origin-{i}", "http://127.0.0.1:0", settings));
        }

        return TestOrigins.Of(list);
    }

    /// <summary>Sends <paramref name="count"/> GETs at once and returns their statuses.</summary>
    internal static async Task<HttpStatusCode[]> BurstAsync(HttpClient client, int count, Func<int, string> path, Func<int, string?>? accept = null)
    {
        return await Task.WhenAll(Enumerable.Range(0, count).Select(async i =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, path(i));
            if (accept?.Invoke(i) is { } value)
            {
                request.Headers.TryAddWithoutValidation("Accept", value);
            }

            using var response = await client.SendAsync(request);
            return response.StatusCode;
        }));
    }

    internal static async Task<JsonNode> AdmissionStatusAsync(TestProxy proxy)
    {
        var status = JsonNode.Parse(await proxy.Client.GetStringAsync("/_lb/status"))!;
        return status["admission"]!;
    }

    internal static async Task<int> QueueLengthAsync(TestProxy proxy) =>
        (await AdmissionStatusAsync(proxy)).AsArray().Sum(static c => c!["queueLength"]!.GetValue<int>());

    private static int LineOf(string json, string text) =>
        json.Split('\n').Select(static (l, i) => (l, i)).First(p => p.l.Contains(text, StringComparison.Ordinal)).i + 1;
}
