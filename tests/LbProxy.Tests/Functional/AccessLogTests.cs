using System.Net;
using System.Text.Json.Nodes;
using LbProxy.AccessLog;
using LbProxy.Tests.Infrastructure;

namespace LbProxy.Tests.Functional;

/// <summary>The access log of an in-process proxy, through the full pipeline, with its lines captured.</summary>
public sealed class AccessLogTests
{
    [Fact]
    public async Task ProxiedRequests_OneLinePerRequestInTheDefaultFormat()
    {
        await using var origins = await TestOrigins.StartAsync(2);
        await using var proxy = await StartAsync(origins);

        for (var i = 0; i < 40; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, $"/images/{i}.jpg?v={i}");
            request.Headers.Referrer = new Uri("https://shop.example/page");
            request.Headers.UserAgent.ParseAdd("test-agent/1.0");
            using var response = await proxy.Client.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        var lines = await proxy.AccessLog.WaitForAsync(40);
        Assert.Equal(40, lines.Count);
        for (var i = 0; i < 40; i++)
        {
            Assert.Matches(AccessLogFormat.DefaultLine(), lines[i]);
            Assert.EndsWith($" GET /images/{i}.jpg?v={i} 200 https://shop.example/page test-agent/1.0", lines[i]);
        }
    }

    [Fact]
    public async Task ControlAndMetricsRequests_GiveNoLineButAreCounted()
    {
        await using var origins = await TestOrigins.StartAsync(1);
        await using var proxy = await StartAsync(origins);

        string[] skipped = ["/_lb/healthz", "/_lb/readyz", "/_LB/healthz", "/_lb/nope", "/metrics", "/metrics/x"];
        foreach (var path in skipped)
        {
            using var response = await proxy.Client.GetAsync(path);
        }

        using var image = await proxy.Client.GetAsync("/images/after.jpg");
        var lines = await proxy.AccessLog.WaitForAsync(1);

        var line = Assert.Single(lines);
        Assert.Contains("GET /images/after.jpg 200", line);
        var counters = proxy.Services.GetRequiredService<AccessLogCounters>();
        Assert.Equal(skipped.Length, counters.Get(AccessLogOutcome.SkippedPath));
        Assert.Equal(1, counters.Get(AccessLogOutcome.Written));
    }

    [Theory]
    [InlineData("/_lbx.jpg")]
    [InlineData("/images/_lb/x.jpg")]
    public async Task LookAlikePaths_AreForwardedAndLogged(string path)
    {
        await using var origins = await TestOrigins.StartAsync(1);
        await using var proxy = await StartAsync(origins);

        using var response = await proxy.Client.GetAsync(path);
        var lines = await proxy.AccessLog.WaitForAsync(1);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(1, origins[0].RequestCount);
        Assert.Contains($" GET {path} 200 ", Assert.Single(lines));
    }

    [Fact]
    public async Task CustomTemplate_ShowsRouteClusterDestinationBytesAndStatus()
    {
        await using var origins = await TestOrigins.StartAsync(1);
        await using var proxy = await StartAsync(origins, new JsonObject
        {
            ["Template"] = "{status} {route} {cluster} {destination} {bytes} {path} {query} {duration_ms}",
        });

        var body = await proxy.Client.GetByteArrayAsync("/images/large.jpg?w=1");
        using var missing = await proxy.Client.GetAsync("/images/none.txt");
        using var unrouted = await proxy.Client.GetAsync("/nowhere");
        var lines = await proxy.AccessLog.WaitForAsync(3);

        Assert.Equal(3, lines.Count);
        Assert.Matches($@"^200 images images origin-0 {body.Length} /images/large\.jpg w=1 \d+(\.\d+)?$", lines[0]);
        Assert.StartsWith("404 images images origin-0 9 /images/none.txt", lines[1]); // "not found"
        Assert.StartsWith("404    0 /nowhere", lines[2]); // no route: nothing forwarded
    }

    [Fact]
    public async Task Bytes_OfTheLineAndOfTheMetrics_AreOneCount()
    {
        // {bytes} and lbproxy_proxy_response_body_bytes_total read the same counter: with both on, each proxied body is
        // counted once, whole, in both; a request answered outside the proxy pipeline is in the line only.
        const int n = 3;
        await using var origins = await TestOrigins.StartAsync(1);
        await using var proxy = await StartAsync(origins, new JsonObject { ["Template"] = "{status} {bytes} {path}", ["SkipControlPaths"] = false });

        var sizes = new List<int>();
        for (var i = 0; i < n; i++)
        {
            sizes.Add((await proxy.Client.GetByteArrayAsync("/images/large.jpg")).Length);
        }

        var status = await proxy.Client.GetByteArrayAsync("/_lb/status");
        var lines = await proxy.AccessLog.WaitForAsync(n + 1);
        var scrape = await MetricsScrape.TakeAsync(proxy.Client);

        Assert.True(sizes[0] > 10_000, $"an image of {sizes[0]} bytes");
        Assert.Equal(Enumerable.Repeat($"200 {sizes[0]} /images/large.jpg", n), lines.Take(n));
        Assert.Equal($"200 {status.Length} /_lb/status", lines[n]);
        Assert.Equal(sizes.Sum(), scrape.Sum("lbproxy_proxy_response_body_bytes_total"));
    }

    [Fact]
    public async Task StatusClassAndSampling_SkipAndCountByRule()
    {
        await using var origins = await TestOrigins.StartAsync(1);
        await using var proxy = await StartAsync(origins, new JsonObject
        {
            ["SkipStatusClasses"] = new JsonArray("4xx"),
            ["SuccessSamplePercent"] = 25,
        });

        for (var i = 0; i < 20; i++)
        {
            using var ok = await proxy.Client.GetAsync($"/images/{i}.jpg");
            using var missing = await proxy.Client.GetAsync($"/images/{i}.txt");
        }

        origins[0].Behavior.FailStatus = 503;
        using var failed = await proxy.Client.GetAsync("/images/fail.jpg");
        var lines = await proxy.AccessLog.WaitForAsync(6);

        var counters = proxy.Services.GetRequiredService<AccessLogCounters>();
        Assert.Equal(6, lines.Count); // 5 of the 20 successes, and the 503
        Assert.Equal(20, counters.Get(AccessLogOutcome.SkippedStatus));
        Assert.Equal(15, counters.Get(AccessLogOutcome.SkippedSample));
        Assert.Contains(" 503 ", lines[^1]);
    }

    [Fact]
    public async Task Disabled_NoLinesAndEveryRequestCounted()
    {
        await using var origins = await TestOrigins.StartAsync(1);
        await using var proxy = await StartAsync(origins, new JsonObject { ["Enabled"] = false });

        for (var i = 0; i < 5; i++)
        {
            using var response = await proxy.Client.GetAsync($"/images/{i}.jpg");
        }

        Assert.Equal(0, proxy.AccessLog.Count);
        Assert.Equal(5, proxy.Services.GetRequiredService<AccessLogCounters>().Get(AccessLogOutcome.SkippedDisabled));
    }

    [Fact]
    public async Task BadTemplate_IsRefusedAtStartWithItsPlace()
    {
        await using var origins = await TestOrigins.StartAsync(1);

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => StartAsync(origins, new JsonObject
        {
            ["Template"] = "{ip} {nope}",
            ["SkipStatusClasses"] = new JsonArray("6xx"),
        }));

        Assert.Contains("LbProxy:AccessLog:Template: Template: unknown placeholder {nope}", error.Message);
        Assert.Contains("LbProxy:AccessLog:SkipStatusClasses: SkipStatusClasses: '6xx'", error.Message);
    }

    private static Task<TestProxy> StartAsync(TestOrigins origins, JsonObject? accessLog = null)
    {
        var config = new TestConfig()
            .Route("images", "images", "/images/{**path}")
            .Route("lookalike", "images", "/_lbx.jpg")
            .Cluster("images", origins.All);
        if (accessLog is not null)
        {
            config.LbProxy("AccessLog", accessLog);
        }

        return TestProxy.StartAsync(config.ToJson());
    }
}
