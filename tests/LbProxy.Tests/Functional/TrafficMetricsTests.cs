using System.Net;
using System.Text.Json.Nodes;
using LbProxy.Tests.Infrastructure;

namespace LbProxy.Tests.Functional;

/// <summary>
/// Bytes and time as an operator's Prometheus reads them: real scrapes of a real proxy in front of real origins.
/// <c>lbproxy_proxy_request_body_bytes_total</c> and <c>lbproxy_proxy_response_body_bytes_total</c> by route, cluster
/// and format class; <c>lbproxy_proxy_duration_seconds</c> by route; <c>lbproxy_proxy_upstream_duration_seconds</c>,
/// the part of it spent in the forwarder.
/// </summary>
public sealed class TrafficMetricsTests
{
    private const string Sent = "lbproxy_proxy_response_body_bytes_total";
    private const string Received = "lbproxy_proxy_request_body_bytes_total";
    private const string Upstream = "lbproxy_proxy_upstream_duration_seconds";
    private const string Duration = "lbproxy_proxy_duration_seconds";

    [Theory]
    [InlineData("image/avif,image/webp,*/*", "avif")]
    [InlineData("image/webp,*/*", "webp")]
    [InlineData("*/*", "original")]
    public async Task ResponseBytes_AfterNImages_AreNTimesTheImageSize_ForTheRouteClusterAndFormat(string accept, string format)
    {
        const int n = 7;
        await using var origins = await TestOrigins.StartAsync(2);
        await using var proxy = await TestProxy.StartAsync(TwoRoutes(origins));
        var size = (await GetAsync(proxy.Client, "/images/cat.jpg", accept)).Length;

        var before = await MetricsScrape.TakeAsync(proxy.Client);
        for (var i = 0; i < n; i++)
        {
            Assert.Equal(size, (await GetAsync(proxy.Client, "/images/cat.jpg", accept)).Length);
        }

        var after = await MetricsScrape.TakeAsync(proxy.Client);
        Assert.True(size > 1000, $"an image of {size} bytes");
        Assert.Equal(n * size, after.Single(Sent, ("route", "images"), ("cluster", "images"), ("format", format))
            - before.Single(Sent, ("route", "images"), ("cluster", "images"), ("format", format)));
        // Nothing else moved: the other classes and the other route have no bytes of these requests.
        Assert.Equal((n + 1) * size, after.Sum(Sent));
        Assert.Equal(0, after.Sum(Received));
    }

    [Fact]
    public async Task Bytes_OfARouteThatDoesNotNegotiate_AreFormatNone_AndRequestBodiesAreCountedBuffered_AndStreamed()
    {
        const int n = 5;
        await using var origins = await TestOrigins.StartAsync(1);
        await using var proxy = await TestProxy.StartAsync(TwoRoutes(origins));
        // Under the 16 KiB edge default the body is read whole before forwarding; above it, it streams.
        var small = new string('s', 3_000);
        var large = new string('l', 100_000);
        long responses = 0;

        for (var i = 0; i < n; i++)
        {
            responses += (await PostAsync(proxy.Client, "/echo/small", small)).Length;
            responses += (await PostAsync(proxy.Client, "/echo/large", large)).Length;
        }

        var scrape = await MetricsScrape.TakeAsync(proxy.Client);
        Assert.Equal(n * (small.Length + large.Length), scrape.Single(Received, ("route", "echo"), ("cluster", "echo"), ("format", "none")));
        Assert.True(responses > n * (small.Length + large.Length), "the echo answers carry the bodies back");
        Assert.Equal(responses, scrape.Single(Sent, ("route", "echo"), ("cluster", "echo"), ("format", "none")));
        Assert.All(scrape.Where(Sent), static s => Assert.Equal(["cluster", "format", "otel_scope_name", "route"], s.Labels.Keys.Order()));
    }

    [Fact]
    public async Task UpstreamTime_OfAnOriginThatDelays_IsAtLeastTheDelays_AndTheTotalIsAtLeastIt()
    {
        const int n = 6;
        const int delayMs = 150;
        await using var origins = await TestOrigins.StartAsync(1);
        await using var proxy = await TestProxy.StartAsync(TwoRoutes(origins));
        origins[0].Behavior.DelayMs = delayMs;

        for (var i = 0; i < n; i++)
        {
            await GetAsync(proxy.Client, $"/images/slow-{i}.jpg", "*/*");
        }

        var scrape = await MetricsScrape.TakeAsync(proxy.Client);
        var upstreamSum = scrape.Single(Upstream + "_sum", ("route", "images"), ("cluster", "images"));
        var totalSum = scrape.Single(Duration + "_sum", ("route", "images"), ("cluster", "images"), ("destination", "origin-0"));
        Assert.Equal(n, scrape.Single(Upstream + "_count", ("route", "images"), ("cluster", "images")));
        Assert.Equal(n, scrape.Single(Duration + "_count", ("route", "images"), ("cluster", "images"), ("destination", "origin-0")));
        Assert.True(upstreamSum >= n * delayMs / 1000.0, $"upstream {upstreamSum} s for {n} requests the origin held {delayMs} ms each");
        Assert.True(totalSum >= upstreamSum, $"total {totalSum} s below upstream {upstreamSum} s");
        Assert.All(scrape.Where(Upstream + "_count"), static s => Assert.Equal(["cluster", "otel_scope_name", "route"], s.Labels.Keys.Order()));
    }

    [Fact]
    public async Task UpstreamTime_OfARequestTheProxyAnswersItself_IsNotRecorded()
    {
        await using var origins = await TestOrigins.StartAsync(1);
        var config = JsonNode.Parse(TwoRoutes(origins))!;
        config["ReverseProxy"]!["Clusters"]!["dead"] = new JsonObject
        {
            ["Destinations"] = new JsonObject { ["nobody"] = new JsonObject { ["Address"] = "http://127.0.0.1:9/" } },
            ["HealthCheck"] = TestConfig.FastActiveHealth(),
        };
        config["ReverseProxy"]!["Routes"]!["dead"] = new JsonObject { ["ClusterId"] = "dead", ["Match"] = new JsonObject { ["Path"] = "/dead/{**path}" } };
        await using var proxy = await TestProxy.StartAsync(config.ToJsonString());
        await Poll.UntilAsync(
            async () =>
            {
                using var response = await proxy.Client.GetAsync("/dead/a.jpg");
                return response.StatusCode;
            },
            static status => status == HttpStatusCode.ServiceUnavailable,
            TimeSpan.FromSeconds(15),
            "a 503 of the proxy's own: no healthy destination");
        var before = await MetricsScrape.TakeAsync(proxy.Client);

        using (var answered = await proxy.Client.GetAsync("/dead/b.jpg"))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, answered.StatusCode);
        }

        var after = await MetricsScrape.TakeAsync(proxy.Client);
        Assert.Equal(1, after.Sum(Duration + "_count", ("route", "dead")) - before.Sum(Duration + "_count", ("route", "dead")));
        Assert.Equal(before.Sum(Upstream + "_count", ("route", "dead")), after.Sum(Upstream + "_count", ("route", "dead")));
    }

    /// <summary>Images (negotiating, the default) and an echo route that does not negotiate, on clusters of their own.</summary>
    private static string TwoRoutes(TestOrigins origins)
    {
        var config = JsonNode.Parse(new TestConfig()
            .Route("images", "images", "/images/{**path}")
            .Route("echo", "echo", "/echo/{**path}")
            .Cluster("images", origins.All)
            .Cluster("echo", origins.All)
            .ToJson())!;
        config["ReverseProxy"]!["Routes"]!["echo"]!["Metadata"] = new JsonObject { ["Images.Negotiate"] = "false" };
        return config.ToJsonString();
    }

    private static async Task<byte[]> GetAsync(HttpClient client, string path, string accept)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.TryAddWithoutValidation("Accept", accept);
        using var response = await client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadAsByteArrayAsync();
    }

    private static async Task<byte[]> PostAsync(HttpClient client, string path, string body)
    {
        using var content = new StringContent(body);
        using var response = await client.PostAsync(path, content);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadAsByteArrayAsync();
    }
}
