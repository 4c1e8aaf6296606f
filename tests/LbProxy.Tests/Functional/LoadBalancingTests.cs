using System.Net;
using System.Text.Json.Nodes;
using LbProxy.SampleOrigin;
using LbProxy.Tests.Infrastructure;
using Yarp.ReverseProxy;
using Yarp.ReverseProxy.Model;

namespace LbProxy.Tests.Functional;

public sealed class LoadBalancingTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task ConsistentHash_EachPathStaysOnOneOrigin_AndAllOriginsAreUsed()
    {
        await using var origins = await TestOrigins.StartAsync(3);
        await using var proxy = await TestProxy.StartAsync(new TestConfig()
            .Route("images", "images", "/images/{**path}")
            .Cluster("images", origins.All, policy: "ConsistentHash")
            .ToJson());

        var placement = new Dictionary<string, string>();
        for (var round = 0; round < 4; round++)
        {
            for (var i = 0; i < 30; i++)
            {
                var path = $"/images/photo-{i}.jpg";
                var origin = await TestOrigins.OriginOfAsync(proxy.Client, path);
                Assert.Equal(placement.GetValueOrDefault(path, origin), origin);
                placement[path] = origin;
            }
        }

        Assert.Equal(3, placement.Values.Distinct().Count());
    }

    [Fact]
    public async Task WeightedRoundRobin_FromDestinationMetadata_SplitsByWeight()
    {
        await using var origins = await TestOrigins.StartAsync(2);
        var config = JsonNode.Parse(new TestConfig()
            .Route("images", "images", "/images/{**path}")
            .Cluster("images", origins.All, policy: "WeightedRoundRobin")
            .ToJson())!;
        config["ReverseProxy"]!["Clusters"]!["images"]!["Destinations"]!["origin-0"]!["Metadata"] = new JsonObject { ["Weight"] = "3" };
        await using var proxy = await TestProxy.StartAsync(config.ToJsonString());

        for (var i = 0; i < 40; i++)
        {
            await TestOrigins.OriginOfAsync(proxy.Client, $"/images/{i}.jpg");
        }

        Assert.Equal(30, origins[0].RequestCount);
        Assert.Equal(10, origins[1].RequestCount);
    }

    [Fact]
    public async Task Retry_DestinationWhosePortRefuses_CostsNoFailedGet()
    {
        await using var origins = await TestOrigins.StartAsync(2);
        var refusing = LoopbackPorts.UnusedAddress();
        await using var proxy = await TestProxy.StartAsync(WithExtraDestination(new TestConfig()
            .Route("images", "images", "/images/{**path}")
            .Cluster("images", origins.All, policy: "RoundRobin"), "refusing", refusing));

        for (var i = 0; i < 60; i++)
        {
            using var response = await proxy.Client.GetAsync($"/images/{i}.jpg");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        var scrape = await MetricsScrape.TakeAsync(proxy.Client);
        Assert.True(scrape.Sum("lbproxy_proxy_retries_total", ("cluster", "images"), ("outcome", "succeeded")) > 0);
        Assert.Equal(0, scrape.Sum("lbproxy_proxy_retries_total", ("cluster", "images"), ("outcome", "failed")));
    }

    [Fact]
    public async Task Retry_PostIsNotRetried()
    {
        await using var origins = await TestOrigins.StartAsync(1);
        var refusing = LoopbackPorts.UnusedAddress();
        await using var proxy = await TestProxy.StartAsync(WithExtraDestination(new TestConfig()
            .Route("echo", "echo", "/echo/{**path}")
            .Cluster("echo", origins.All, policy: "FirstAlphabetical"), "a-refusing", refusing));

        using var post = await proxy.Client.PostAsync("/echo/upload", new StringContent("body"));
        using var get = await proxy.Client.GetAsync("/echo/read");

        Assert.Equal(HttpStatusCode.BadGateway, post.StatusCode);  // a-refusing sorts first; a POST is never replayed
        Assert.Equal(HttpStatusCode.OK, get.StatusCode);          // a GET goes on to origin-0
        Assert.Equal(1, origins[0].RequestCount);
    }

    [Fact]
    public async Task Retry_MethodsNarrowedToGet_HeadIsNoLongerRetried()
    {
        await using var origins = await TestOrigins.StartAsync(1);
        await using var proxy = await TestProxy.StartAsync(WithExtraDestination(new TestConfig()
            .Route("images", "images", "/images/{**path}")
            .Cluster("images", origins.All, policy: "FirstAlphabetical"), "a-refusing", LoopbackPorts.UnusedAddress()),
            "--LbProxy:Retry:Methods:0", "GET");

        using var head = await proxy.Client.SendAsync(new HttpRequestMessage(HttpMethod.Head, "/images/a.jpg"));
        using var get = await proxy.Client.GetAsync("/images/a.jpg");

        Assert.Equal(HttpStatusCode.BadGateway, head.StatusCode);
        Assert.Equal(HttpStatusCode.OK, get.StatusCode);
    }

    [Fact]
    public async Task Retry_WhenEveryDestinationFailsAfterTheRequestWasSent_StaysWithinTheBudget()
    {
        // Both origins take each request and drop the connection without an answer: they saw the request, so
        // its retries are bounded by the budget (refused connections, which cost an origin nothing, are not).
        await using var origins = await TestOrigins.StartAsync(2);
        foreach (var origin in origins.All)
        {
            origin.Behavior.DropConnections = true;
        }

        var config = new TestConfig()
            .Route("images", "images", "/images/{**path}")
            // Passive health off: it would take both out and turn the 502s into 503s, hiding the budget.
            .Cluster("images", origins.All, policy: "PowerOfTwoChoices",
                healthCheck: new JsonObject { ["Passive"] = new JsonObject { ["Enabled"] = false } });
        await using var proxy = await TestProxy.StartAsync(config.ToJson(), "--LbProxy:Retry:MinRetriesPerSecond", "0");

        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 100; i++)
        {
            using var response = await proxy.Client.GetAsync($"/images/{i}.jpg");
            statuses.Add(response.StatusCode);
        }

        var scrape = await MetricsScrape.TakeAsync(proxy.Client);
        var sent = scrape.Sum("lbproxy_proxy_retries_total", ("cluster", "images"), ("outcome", "failed"));
        Assert.InRange(sent, 1, 20);   // at most 20% of 100 requests
        // A request whose retry tried both destinations gets the cluster's 503; one refused a retry, a 502.
        Assert.Equal((int)sent, statuses.Count(s => s == HttpStatusCode.ServiceUnavailable));
        Assert.Equal(100 - (int)sent, statuses.Count(s => s == HttpStatusCode.BadGateway));
        Assert.True(scrape.Sum("lbproxy_proxy_retries_total", ("cluster", "images"), ("outcome", "budget_exhausted")) >= 80);
    }

    [Fact]
    public async Task Retry_RefusedConnections_AreRetriedOutsideTheBudget()
    {
        var config = new TestConfig()
            .Route("images", "images", "/images/{**path}")
            .Cluster("images", DeadDestinations(2), policy: "PowerOfTwoChoices",
                healthCheck: new JsonObject { ["Passive"] = new JsonObject { ["Enabled"] = false } });
        await using var proxy = await TestProxy.StartAsync(config.ToJson(), "--LbProxy:Retry:MinRetriesPerSecond", "0");

        for (var i = 0; i < 30; i++)
        {
            using var response = await proxy.Client.GetAsync($"/images/{i}.jpg");
            Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode); // both tried, neither answered
        }

        var scrape = await MetricsScrape.TakeAsync(proxy.Client);
        Assert.Equal(30, scrape.Sum("lbproxy_proxy_retries_total", ("cluster", "images"), ("outcome", "failed")));
        Assert.Equal(0, scrape.Sum("lbproxy_proxy_retries_total", ("cluster", "images"), ("outcome", "budget_exhausted")));
    }

    [Fact]
    public async Task KillOneOfThreeOriginsWithSigkill_UnderLoad_NoGetFails()
    {
        var directory = Directory.CreateTempSubdirectory("lbproxy-kill-");
        var processes = new List<ProxyProcess>();
        try
        {
            var addresses = new List<Uri>();
            for (var i = 0; i < 3; i++)
            {
                var origin = ProxyProcess.Start(directory.FullName, "origin", "--urls", "http://127.0.0.1:0", "--id", $"origin-{i}");
                processes.Add(origin);
                addresses.Add(await origin.WaitUntilListeningAsync(Bound));
            }

            await using var proxy = await TestProxy.StartAsync(new TestConfig()
                .Route("images", "images", "/images/{**path}")
                .Cluster("images", addresses.Select((address, i) => ($"origin-{i}", address)), policy: "ConsistentHash",
                    healthCheck: TestConfig.FastActiveHealth())
                .ToJson());
            await using var traffic = await TrafficLoop.StartAsync(proxy.Client, i => $"/images/photo-{i % 50}.jpg");
            await Poll.UntilAsync(() => Task.FromResult(traffic.Ok), ok => ok > 200, Bound, "steady traffic");

            processes[1].KillHard();
            await ProxyState.WaitForActiveHealthAsync(proxy, "origin-1", DestinationHealth.Unhealthy);
            var atDetection = traffic.Ok;
            await Poll.UntilAsync(() => Task.FromResult(traffic.Ok), ok => ok > atDetection + 200, Bound, "traffic after the kill");

            await traffic.StopAsync();
            Assert.Empty(traffic.Failures);
        }
        finally
        {
            foreach (var process in processes)
            {
                await process.DisposeAsync();
            }

            directory.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task AllOriginsJustDied_BeforeHealthChecksNoticed_GetIs503WithRetryAfter()
    {
        await using var proxy = await TestProxy.StartAsync(new TestConfig()
            .Route("images", "images", "/images/{**path}")
            .Cluster("images", DeadDestinations(2), policy: "ConsistentHash")
            .ToJson());

        // The POST first: a GET's retries find both refusing, which takes both out.
        using var post = await proxy.Client.PostAsync("/images/a.jpg", new StringContent("x"));
        using var get = await proxy.Client.GetAsync("/images/a.jpg");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, get.StatusCode);
        Assert.NotNull(get.Headers.RetryAfter);
        Assert.Contains("'images'", await get.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.BadGateway, post.StatusCode); // not retried, so not every destination was tried
    }

    [Fact]
    public async Task AllOriginsDown_Answers503WithRetryAfterAndTheClusterName()
    {
        await using var origins = await TestOrigins.StartAsync(2);
        await using var proxy = await TestProxy.StartAsync(new TestConfig()
            .Route("images", "images", "/images/{**path}")
            .Cluster("images", origins.All, policy: "ConsistentHash", healthCheck: TestConfig.FastActiveHealth())
            .ToJson());

        await origins[0].StopAsync();
        await origins[1].StopAsync();
        await ProxyState.WaitForActiveHealthAsync(proxy, "origin-0", DestinationHealth.Unhealthy);
        await ProxyState.WaitForActiveHealthAsync(proxy, "origin-1", DestinationHealth.Unhealthy);
        using var client = new HttpClient { BaseAddress = proxy.Address, Timeout = TimeSpan.FromSeconds(5) };
        using var response = await client.GetAsync("/images/a.jpg");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal(TimeSpan.FromSeconds(5), response.Headers.RetryAfter?.Delta);
        var body = await response.Content.ReadAsStringAsync();
        Assert.Contains("'images'", body);
        Assert.DoesNotContain("127.0.0.1", body);
    }

    [Fact]
    public async Task OutlierEjection_OriginAnswering500s_IsEjected_ButNeverMoreThanTheMaxShare()
    {
        await using var origins = await TestOrigins.StartAsync(2);
        await using var proxy = await TestProxy.StartAsync(new TestConfig()
            .Route("images", "images", "/images/{**path}")
            .Cluster("images", origins.All, policy: "RoundRobin", metadata: new JsonObject
            {
                ["OutlierEjection.Consecutive5xx"] = "3",
                ["OutlierEjection.MaxEjectedPercent"] = "50",
                ["OutlierEjection.Duration"] = "00:05:00",
            })
            .ToJson());
        origins[1].Behavior.FailStatus = 500;

        var failures = 0;
        for (var i = 0; i < 40; i++)
        {
            using var response = await proxy.Client.GetAsync($"/images/{i}.jpg");
            failures += response.StatusCode == HttpStatusCode.InternalServerError ? 1 : 0;
        }

        Assert.Equal(3, failures); // the three that earned the ejection
        Assert.Equal(DestinationHealth.Unhealthy, ProxyState.Destination(proxy, "origin-1").Health.Passive);

        // The other one fails too: ejecting it would empty the cluster, beyond the 50% cap.
        origins[0].Behavior.FailStatus = 500;
        for (var i = 0; i < 10; i++)
        {
            using var response = await proxy.Client.GetAsync($"/images/{i}.jpg");
        }

        Assert.NotEqual(DestinationHealth.Unhealthy, ProxyState.Destination(proxy, "origin-0").Health.Passive);
    }

    [Fact]
    public async Task OutlierEjection_RequestsStillInFlightWhenEjected_DoNotBringTheOriginBack()
    {
        await using var origins = await TestOrigins.StartAsync(2);
        await using var proxy = await TestProxy.StartAsync(new TestConfig()
            .Route("images", "images", "/images/{**path}")
            .Cluster("images", origins.All, policy: "RoundRobin", metadata: new JsonObject
            {
                // 12 requests reach origin-1 at once; 12 is not a multiple of 5, so the last two answers
                // after the second ejection cannot earn a third one: only keeping the ejection holds it out.
                ["OutlierEjection.Consecutive5xx"] = "5",
                ["OutlierEjection.Duration"] = "00:05:00",
            })
            .ToJson());
        origins[1].Behavior.FailStatus = 500;
        origins[1].Behavior.DelayMs = 300; // so that all its requests are in flight together

        await Task.WhenAll(Enumerable.Range(0, 24).Select(async i =>
        {
            using var response = await proxy.Client.GetAsync($"/images/{i}.jpg");
        }));

        Assert.Equal(12, origins[1].RequestCount);
        Assert.Equal(DestinationHealth.Unhealthy, ProxyState.Destination(proxy, "origin-1").Health.Passive);
    }

    [Theory]
    [InlineData("ConsistentHash.Key", "cookie", "is not a hash key")]
    [InlineData("OutlierEjection.Consecutive5xx", "many", "OutlierEjection.Consecutive5xx must be")]
    public async Task BadBalancingMetadata_IsRefused(string key, string value, string expected)
    {
        await using var origins = await TestOrigins.StartAsync(1);
        var json = new TestConfig()
            .Route("images", "images", "/images/{**path}")
            .Cluster("images", origins.All, policy: "ConsistentHash", metadata: new JsonObject { [key] = value })
            .ToJson();

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => TestProxy.StartAsync(json));

        Assert.Contains(expected, error.Message);
    }

    /// <summary>dead-0, dead-1, ...: destinations on loopback ports where nothing listens.</summary>
    private static IEnumerable<(string Id, Uri Address)> DeadDestinations(int count) =>
        [.. Enumerable.Range(0, count).Select(i => ($"dead-{i}", LoopbackPorts.UnusedAddress()))];

    private static string WithExtraDestination(TestConfig config, string id, Uri address)
    {
        var node = JsonNode.Parse(config.ToJson())!;
        foreach (var cluster in node["ReverseProxy"]!["Clusters"]!.AsObject())
        {
            cluster.Value!["Destinations"]![id] = new JsonObject { ["Address"] = address.ToString() };
        }

        return node.ToJsonString();
    }
}
