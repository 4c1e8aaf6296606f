using System.Text.Json.Nodes;
using LbProxy.Tests.Infrastructure;

namespace LbProxy.Tests.Functional;

/// <summary>
/// <c>LbProxy:Metrics:Endpoint</c>: <c>/metrics</c> answers on that Kestrel endpoint only, and is a 404 on the traffic
/// endpoint that no origin sees; the metrics endpoint forwards nothing; <c>validate</c> refuses a name that is not an
/// endpoint, with its place.
/// </summary>
public sealed class FleetMetricsEndpointTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task MetricsEndpointSet_MetricsOnTrafficPortIs404NeverForwarded_AndTheMetricsPortForwardsNothing()
    {
        await using var origins = await TestOrigins.StartAsync(1);
        var trafficPort = LoopbackPorts.Unused();
        var metricsPort = LoopbackPorts.Unused();
        await using var proxy = await TestProxy.StartAsync(Config(origins, trafficPort, metricsPort, "Metrics"));
        using var traffic = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{trafficPort}") };
        using var metrics = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{metricsPort}") };

        foreach (var path in new[] { "/metrics", "//METRICS/", "/%6Detrics", "/metrics?x=1" })
        {
            var refused = await RawHttp.GetAsync(traffic.BaseAddress!, path);
            Assert.True(refused.StatusCode == 404, $"{path}: {refused.StatusCode}");
            Assert.DoesNotContain("# TYPE", refused.Body, StringComparison.Ordinal);
        }

        Assert.Equal(0, origins[0].RequestCount);

        var scrape = await MetricsScrape.TakeAsync(metrics);
        Assert.Contains("# TYPE", scrape.Text, StringComparison.Ordinal);
        var image = await RawHttp.GetAsync(metrics.BaseAddress!, "/images/cat.jpg");
        Assert.Equal(404, image.StatusCode);
        Assert.Equal(0, origins[0].RequestCount);

        // Traffic still flows on the traffic port, and the control plane answers on both.
        Assert.Equal("origin-0", await TestOrigins.OriginOfAsync(traffic, "/images/cat.jpg"));
        Assert.Equal(1, origins[0].RequestCount);
        Assert.Equal("ok", await traffic.GetStringAsync("/_lb/healthz"));
        Assert.Equal("ok", await metrics.GetStringAsync("/_lb/healthz"));
    }

    [Fact]
    public async Task Validate_MetricsEndpointNotAKestrelEndpoint_ExitOneWithItsPlace()
    {
        await using var origins = await TestOrigins.StartAsync(1);
        var directory = Directory.CreateTempSubdirectory("lbproxy-metrics-endpoint-");
        try
        {
            var path = Path.Combine(directory.FullName, "bad.json");
            await File.WriteAllTextAsync(path, Config(origins, LoopbackPorts.Unused(), LoopbackPorts.Unused(), "Metrcs"));

            var (exitCode, output) = await ProxyProcess.RunToExitAsync(directory.FullName, Bound, "validate", path);

            Assert.True(exitCode == 1, output);
            Assert.Matches(@"bad\.json:\d+:\d+", output);
            Assert.Contains("LbProxy:Metrics:Endpoint: endpoint 'Metrcs' is not among Kestrel:Endpoints (Metrics, Traffic)", output, StringComparison.Ordinal);
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    private static string Config(TestOrigins origins, int trafficPort, int metricsPort, string metricsEndpoint)
    {
        var config = JsonNode.Parse(new TestConfig()
            .Route("everything", "images", "/{**path}")
            .Cluster("images", origins.All)
            .LbProxy("Metrics", new JsonObject { ["Endpoint"] = metricsEndpoint })
            .ToJson())!;
        config["Kestrel"] = new JsonObject
        {
            ["Endpoints"] = new JsonObject
            {
                ["Traffic"] = new JsonObject { ["Url"] = $"http://127.0.0.1:{trafficPort}" },
                ["Metrics"] = new JsonObject { ["Url"] = $"http://127.0.0.1:{metricsPort}" },
            },
        };
        return config.ToJsonString();
    }
}
