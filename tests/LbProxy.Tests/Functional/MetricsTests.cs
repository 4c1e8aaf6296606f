using System.Net;
using System.Text.Json.Nodes;
using LbProxy.Configuration;
using LbProxy.SampleOrigin;
using LbProxy.Tests.Infrastructure;

namespace LbProxy.Tests.Functional;

/// <summary>What an operator's Prometheus sees: real scrapes of a real proxy in front of real origins.</summary>
public sealed class MetricsTests
{
    private const string Requests = "lbproxy_proxy_requests_total";
    private const string Active = "lbproxy_proxy_active_requests";
    private const string Errors = "lbproxy_proxy_errors_total";
    private const string Healthy = "lbproxy_destination_healthy";
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(15);

    /// <summary>The families operators' dashboards and alerts rely on, with their types, as they must appear on /metrics.</summary>
    private static readonly (string Family, string Type)[] ProductFamilies =
    [
        ("dotnet_timer_count", "gauge"),
        ("dotnet_thread_pool_thread_count", "gauge"),
        ("dotnet_thread_pool_queue_length", "gauge"),
        ("dotnet_thread_pool_work_item_count_total", "counter"),
        ("dotnet_process_cpu_time_seconds_total", "counter"),
        ("dotnet_process_memory_working_set_bytes", "gauge"),
        ("http_server_request_duration_seconds", "histogram"),
        ("http_server_active_requests", "gauge"),
        ("kestrel_active_connections", "gauge"),
        ("lbproxy_proxy_requests_total", "counter"),
        ("lbproxy_proxy_active_requests", "gauge"),
        ("lbproxy_proxy_duration_seconds", "histogram"),
        ("lbproxy_proxy_errors_total", "counter"),
        ("lbproxy_destination_healthy", "gauge"),
        ("lbproxy_config_generation", "gauge"),
        ("lbproxy_config_reloads_total", "counter"),
        ("lbproxy_config_last_reload_success", "gauge"),
        ("lbproxy_accesslog_lines_total", "counter"),
        ("lbproxy_proxy_retries_total", "counter"),
        ("lbproxy_image_requests_total", "counter"),
    ];

    [Fact]
    public async Task Scrape_AfterTraffic_HasTheProductMetricNamesWithTheirTypesAndSamples()
    {
        await using var origins = await TestOrigins.StartAsync(1);
        await using var proxy = await TestProxy.StartAsync(ConfigWithDeadDestination(origins));
        await SendMixedTrafficAsync(proxy);

        var scrape = await MetricsScrape.TakeAsync(proxy.Client);

        var wrong = ProductFamilies
            .Where(f => !scrape.Types.TryGetValue(f.Family, out var type) || type != f.Type
                || !scrape.Samples.Any(s => s.Name == f.Family || s.Name == f.Family + "_count"))
            .Select(f => $"{f.Family} ({f.Type}): {(scrape.Types.TryGetValue(f.Family, out var type) ? type : "missing")}")
            .ToList();
        Assert.True(wrong.Count == 0, $"not as promised:\n{string.Join("\n", wrong)}\n\n{scrape.Text}");
    }

    [Fact]
    public async Task Scrape_ThreadPoolGauges_AreNotExportedAsCounters()
    {
        await using var origins = await TestOrigins.StartAsync(1);
        await using var proxy = await TestProxy.StartAsync(SimpleConfig(origins));

        var scrape = await MetricsScrape.TakeAsync(proxy.Client);

        Assert.DoesNotContain("dotnet_thread_pool_thread_count_total", scrape.Types.Keys);
        Assert.DoesNotContain("dotnet_thread_pool_queue_length_total", scrape.Types.Keys);
        Assert.True(scrape.Single("dotnet_thread_pool_thread_count") >= 1);
        Assert.True(scrape.Single("dotnet_timer_count") >= 1);
    }

    [Fact]
    public async Task Scrape_PassesPromtool()
    {
        await using var origins = await TestOrigins.StartAsync(1);
        await using var proxy = await TestProxy.StartAsync(ConfigWithDeadDestination(origins));
        await SendMixedTrafficAsync(proxy);
        var scrape = await MetricsScrape.TakeAsync(proxy.Client);

        var (exitCode, output) = await Promtool.CheckMetricsAsync(scrape.Text);

        // promtool's linter advises against a "_count" suffix outside histograms; the runtime's own names
        // have one, and are kept because every .NET dashboard uses them. That advice is all it may say.
        var problems = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Where(line => !IsRuntimeCountSuffixAdvice(line))
            .ToList();
        Assert.True(problems.Count == 0, $"promtool (exit {exitCode}):\n{output}");
        Assert.True(exitCode is 0 or 3, $"promtool failed to parse the exposition (exit {exitCode}):\n{output}");
    }

    [Fact]
    public async Task ProxiedRequests_CounterGrowsByExactlyN_WithRouteClusterDestinationAndStatus()
    {
        const int n = 37;
        await using var origins = await TestOrigins.StartAsync(2);
        await using var proxy = await TestProxy.StartAsync(SimpleConfig(origins));
        var before = await MetricsScrape.TakeAsync(proxy.Client);

        for (var i = 0; i < n; i++)
        {
            using var response = await proxy.Client.GetAsync($"/images/{i}.jpg");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        var after = await MetricsScrape.TakeAsync(proxy.Client);
        Assert.Equal(n, after.Sum(Requests) - before.Sum(Requests));
        foreach (var origin in origins.All)
        {
            var labels = new[] { ("route", "images"), ("cluster", "images"), ("destination", origin.Id), ("status_code", "200") };
            Assert.Equal(origin.RequestCount, after.Single(Requests, labels) - before.Sum(Requests, labels));
        }

        Assert.Equal(n, after.Sum("lbproxy_proxy_duration_seconds_count") - before.Sum("lbproxy_proxy_duration_seconds_count"));
        Assert.All(after.Where(Requests), s => Assert.Equal(["cluster", "destination", "otel_scope_name", "route", "status_code"], s.Labels.Keys.Order()));
    }

    [Fact]
    public async Task FailedForwards_AreCountedByStatusAndYarpErrorKind()
    {
        await using var origins = await TestOrigins.StartAsync(1);
        // Retries off: with them, a GET that tried every destination of the cluster becomes its 503.
        await using var proxy = await TestProxy.StartAsync(ConfigWithDeadDestination(origins), "--LbProxy:Retry:Enabled", "false");

        for (var i = 0; i < 3; i++)
        {
            using var response = await proxy.Client.GetAsync($"/dead/{i}.jpg");
            Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        }

        using (var unrouted = await proxy.Client.GetAsync("/no-route/a.jpg"))
        {
            Assert.Equal(HttpStatusCode.NotFound, unrouted.StatusCode);
        }

        var scrape = await MetricsScrape.TakeAsync(proxy.Client);
        Assert.Equal(3, scrape.Single(Requests, ("route", "dead"), ("destination", "nobody"), ("status_code", "502")));
        Assert.Equal(3, scrape.Single(Errors, ("cluster", "dead"), ("destination", "nobody"), ("error", "Request")));
        Assert.Empty(scrape.Where(Requests, ("status_code", "404"))); // no route matched: not a proxied request
    }

    [Fact]
    public async Task AccessLogLines_AreCountedExactlyByOutcome()
    {
        await using var origins = await TestOrigins.StartAsync(1);
        await using var proxy = await TestProxy.StartAsync(SimpleConfig(origins));

        for (var i = 0; i < 25; i++)
        {
            using var response = await proxy.Client.GetAsync($"/images/{i}.jpg");
        }

        for (var i = 0; i < 5; i++)
        {
            using var response = await proxy.Client.GetAsync("/_lb/healthz");
        }

        await proxy.AccessLog.WaitForAsync(25);
        var scrape = await MetricsScrape.TakeAsync(proxy.Client);

        Assert.Equal(25, scrape.Single("lbproxy_accesslog_lines_total", ("outcome", "written")));
        Assert.Equal(5, scrape.Single("lbproxy_accesslog_lines_total", ("outcome", "skipped_path"))); // the scrape counts once it is done
        Assert.Equal(0, scrape.Sum("lbproxy_accesslog_lines_total", ("outcome", "dropped")));
    }

    [Fact]
    public async Task AccessLogLines_EveryOutcomeSeriesExistsAtZeroBeforeAnyLine()
    {
        await using var origins = await TestOrigins.StartAsync(1);
        await using var proxy = await TestProxy.StartAsync(SimpleConfig(origins));

        var scrape = await MetricsScrape.TakeAsync(proxy.Client);

        // An alert on increase(...{outcome="dropped"}) sees the first drop only if the series was there at 0 before it.
        foreach (var outcome in new[] { "written", "dropped", "skipped_path", "skipped_status", "skipped_duration", "skipped_sample", "skipped_disabled" })
        {
            Assert.Equal(0, scrape.Single("lbproxy_accesslog_lines_total", ("outcome", outcome)));
        }
    }

    [Fact]
    public async Task NoHealthyDestination_IsCountedAs503WithNoDestination()
    {
        await using var origins = await TestOrigins.StartAsync(1);
        await using var proxy = await TestProxy.StartAsync(new TestConfig()
            .Route("images", "images", "/images/{**path}")
            .Cluster("images", origins.All, healthCheck: TestConfig.FastActiveHealth())
            .ToJson());
        origins[0].Behavior.Unhealthy = true;
        await Poll.UntilAsync(() => MetricsScrape.TakeAsync(proxy.Client), s => s.Sum(Healthy, ("destination", "origin-0")) == 0, Bound, "origin-0 reading unhealthy");

        // YARP recomputes a cluster's available destinations just after marking one unhealthy: until then a
        // request may still reach it. Stop at the first 503.
        await Poll.UntilAsync(
            async () =>
            {
                using var response = await proxy.Client.GetAsync("/images/a.jpg");
                return response.StatusCode;
            },
            status => status == HttpStatusCode.ServiceUnavailable,
            Bound,
            "a 503 with no healthy destination");

        var scrape = await MetricsScrape.TakeAsync(proxy.Client);
        Assert.Equal(1, scrape.Single(Requests, ("cluster", "images"), ("destination", ""), ("status_code", "503")));
        Assert.Equal(1, scrape.Single(Errors, ("cluster", "images"), ("error", "NoAvailableDestinations")));
    }

    [Fact]
    public async Task Scrape_BeforeAnyTraffic_HasEachClustersNoDestinationErrorsAtZero()
    {
        await using var origins = await TestOrigins.StartAsync(2);
        await using var proxy = await TestProxy.StartAsync(new TestConfig()
            .Route("images", "images", "/images/{**path}")
            .Route("thumbs", "thumbs", "/thumbs/{**path}")
            .Cluster("images", [origins[0]])
            .Cluster("thumbs", [origins[1]])
            .ToJson());

        var scrape = await MetricsScrape.TakeAsync(proxy.Client);

        // So that increase() and alerts see the first one (a counter appearing at 1 hides it).
        Assert.Equal(0, scrape.Single(Errors, ("cluster", "images"), ("destination", ""), ("error", "NoAvailableDestinations")));
        Assert.Equal(0, scrape.Single(Errors, ("cluster", "thumbs"), ("destination", ""), ("error", "NoAvailableDestinations")));
        Assert.Equal(2, scrape.Where(Errors).Count());
    }

    [Fact]
    public async Task ActiveRequests_CountsInFlightRequests_AndIsBackToZeroAtIdle()
    {
        const int inFlight = 3;
        await using var origins = await TestOrigins.StartAsync(1);
        await using var proxy = await TestProxy.StartAsync(SimpleConfig(origins));
        origins[0].Behavior.DelayMs = 4000; // holds each request at the origin while the gauge is read
        var slow = Enumerable.Range(0, inFlight).Select(i => proxy.Client.GetAsync($"/images/slow-{i}.jpg")).ToList();

        await Poll.UntilAsync(() => MetricsScrape.TakeAsync(proxy.Client), s => s.Sum(Active, ("destination", "origin-0")) == inFlight, Bound, $"{inFlight} requests in flight");
        foreach (var response in await Task.WhenAll(slow))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            response.Dispose();
        }

        var idle = await Poll.UntilAsync(() => MetricsScrape.TakeAsync(proxy.Client), s => s.Sum(Active) == 0, Bound, "the proxy going idle");
        Assert.Equal(0, idle.Single(Active, ("cluster", "images"), ("destination", "origin-0")));
        // At idle the only request the server is handling is the scrape itself.
        await Poll.UntilAsync(() => MetricsScrape.TakeAsync(proxy.Client), s => s.Sum("http_server_active_requests") == 1, Bound, "only the scrape in flight");
    }

    [Fact]
    public async Task ThousandsOfDistinctPaths_AddNoSeries()
    {
        const int paths = 2000;
        await using var origins = await TestOrigins.StartAsync(2);
        await using var proxy = await TestProxy.StartAsync(SimpleConfig(origins));
        for (var i = 0; i < 10; i++)
        {
            using var warmUp = await proxy.Client.GetAsync($"/images/warm-{i}.jpg");
        }

        await MetricsScrape.TakeAsync(proxy.Client); // the first scrape adds the series of /metrics itself
        var before = await MetricsScrape.TakeAsync(proxy.Client);
        for (var i = 0; i < paths; i++)
        {
            using var response = await proxy.Client.GetAsync($"/images/distinct/{Guid.NewGuid():N}-{i}.jpg?v={i}");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        var after = await MetricsScrape.TakeAsync(proxy.Client);
        var added = RequestSeries(after).Except(RequestSeries(before)).ToList();
        Assert.True(added.Count == 0, $"{added.Count} new series:\n{string.Join("\n", added)}");
        Assert.Equal(RequestSeries(before), RequestSeries(after));
        Assert.Equal(paths, after.Sum(Requests) - before.Sum(Requests));
        Assert.DoesNotContain(after.Samples, s => s.Labels.Values.Any(v => v.Contains("distinct", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task DestinationHealth_OriginDies_ReadsZeroWithinAFewHealthCheckIntervals()
    {
        await using var origins = await TestOrigins.StartAsync(2);
        await using var proxy = await TestProxy.StartAsync(new TestConfig()
            .Route("images", "images", "/images/{**path}")
            .Cluster("images", origins.All, healthCheck: TestConfig.FastActiveHealth())
            .ToJson());
        var up = await MetricsScrape.TakeAsync(proxy.Client);
        Assert.Equal(1, up.Single(Healthy, ("cluster", "images"), ("destination", "origin-1")));

        await origins[1].StopAsync();

        var down = await Poll.UntilAsync(() => MetricsScrape.TakeAsync(proxy.Client), s => s.Single(Healthy, ("destination", "origin-1")) == 0, Bound, "origin-1 reading 0");
        Assert.Equal(1, down.Single(Healthy, ("cluster", "images"), ("destination", "origin-0")));
    }

    [Fact]
    public async Task TenParallelScrapes_AllSucceedWithFullContent()
    {
        await using var origins = await TestOrigins.StartAsync(1);
        await using var proxy = await TestProxy.StartAsync(ConfigWithDeadDestination(origins));
        await SendMixedTrafficAsync(proxy);
        var reference = await MetricsScrape.TakeAsync(proxy.Client);

        var scrapes = await Task.WhenAll(Enumerable.Range(0, 10).Select(_ => MetricsScrape.TakeAsync(proxy.Client)));

        foreach (var scrape in scrapes)
        {
            // Every family of the reference is in full in each scrape. A family may also appear in between: the
            // process-wide http.client instruments start one when any pooled connection in the process closes.
            Assert.Empty(reference.Types.Keys.Except(scrape.Types.Keys));
            Assert.Equal(reference.Sum(Requests), scrape.Sum(Requests));
            Assert.EndsWith("\n", scrape.Text, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("/metrics")]
    [InlineData("/METRICS")]
    [InlineData("/metrics/")]
    public async Task Metrics_UnderACatchAllRoute_IsAnsweredByTheProxyNeverForwarded(string path)
    {
        await using var origins = await TestOrigins.StartAsync(1);
        await using var proxy = await TestProxy.StartAsync(TestConfig.CatchAll(origins.All));

        var scrape = await MetricsScrape.TakeAsync(proxy.Client, path);

        Assert.Contains("lbproxy_config_generation", scrape.Types.Keys);
        Assert.Equal(0, origins[0].RequestCount);
        using var image = await proxy.Client.GetAsync("/metrics.jpg"); // a look-alike is still proxied
        Assert.Equal("origin-0", image.Headers.GetValues(SampleOriginServer.OriginIdHeader).Single());
    }

    [Fact]
    public async Task Program_WithDemoOrigins_ExportsTheProductNamesAndOnlyTheProxysOwnServerTraffic()
    {
        // The real program, as an operator runs it, with the demo's in-process origins (on free ports, so
        // that it cannot collide with another demo); they are hosts of their own and must not be counted.
        var directory = Directory.CreateTempSubdirectory("lbproxy-metrics-");
        try
        {
            var ports = new[] { LoopbackPorts.Unused(), LoopbackPorts.Unused() };
            var config = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(RepositoryRoot.Path, "yarp.json")))!;
            var destinations = config["ReverseProxy"]!["Clusters"]!["images"]!["Destinations"]!.AsObject();
            destinations["origin-a"]!["Address"] = $"http://127.0.0.1:{ports[0]}/";
            destinations["origin-b"]!["Address"] = $"http://127.0.0.1:{ports[1]}/";
            var path = Path.Combine(directory.FullName, "yarp.json");
            await File.WriteAllTextAsync(path, config.ToJsonString());
            await using var program = ProxyProcess.Start(directory.FullName, "--config", path, "--urls", "http://127.0.0.1:0");
            using var client = new HttpClient { BaseAddress = await program.WaitUntilListeningAsync(Bound) };
            for (var i = 0; i < 4; i++)
            {
                using var response = await client.GetAsync($"/images/demo-{i}.jpg");
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            }

            var scrape = await MetricsScrape.TakeAsync(client);

            var missing = ProductFamilies.Where(f => !scrape.Types.TryGetValue(f.Family, out var type) || type != f.Type).ToList();
            Assert.True(missing.Count == 0, $"missing or mistyped: {string.Join(", ", missing)}");
            Assert.Equal(4, scrape.Sum("http_server_request_duration_seconds_count", ("http_route", "/images/{**path}")));
            Assert.Equal(4, scrape.Sum("http_server_request_duration_seconds_count")); // the origins' requests are not here
            var proxyPort = client.BaseAddress!.Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
            Assert.All(scrape.Where("kestrel_active_connections"), s => Assert.Equal(proxyPort, s.Labels["server_port"]));
            Assert.Equal(4, scrape.Sum(Requests, ("cluster", "images")));
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task ConfigMetrics_FollowConfigState()
    {
        await using var origins = await TestOrigins.StartAsync(1);
        await using var proxy = await TestProxy.StartAsync(SimpleConfig(origins));
        var start = await MetricsScrape.TakeAsync(proxy.Client);
        Assert.Equal(1, start.Single("lbproxy_config_generation"));
        Assert.Equal(1, start.Single("lbproxy_config_last_reload_success"));
        Assert.Equal(0, start.Sum("lbproxy_config_reloads_total"));

        // What the config loader records on a good and then a bad reload.
        var state = proxy.Services.GetRequiredService<ConfigState>();
        state.RecordApplied("0123456789abcdef");
        state.RecordRejected("yarp.json:3:7: bad");
        state.RecordUnchanged();

        var after = await MetricsScrape.TakeAsync(proxy.Client);
        Assert.Equal(2, after.Single("lbproxy_config_generation"));
        Assert.Equal(0, after.Single("lbproxy_config_last_reload_success"));
        Assert.Equal(1, after.Single("lbproxy_config_reloads_total", ("result", "applied")));
        Assert.Equal(1, after.Single("lbproxy_config_reloads_total", ("result", "rejected")));
        Assert.Equal(1, after.Single("lbproxy_config_reloads_total", ("result", "unchanged")));
    }

    private static string SimpleConfig(TestOrigins origins) => new TestConfig()
        .Route("images", "images", "/images/{**path}")
        .Cluster("images", origins.All)
        .ToJson();

    /// <summary>An image route, and a route to a cluster whose only destination listens nowhere.</summary>
    private static string ConfigWithDeadDestination(TestOrigins origins) => new TestConfig()
        .Route("images", "images", "/images/{**path}")
        .Route("dead", "dead", "/dead/{**path}")
        .Cluster("images", origins.All)
        // Passive health off: a refused connection would take "nobody" out, and the 502s would become 503s.
        .Cluster("dead", [("nobody", LoopbackPorts.UnusedAddress())],
            healthCheck: new JsonObject { ["Passive"] = new JsonObject { ["Enabled"] = false } })
        .ToJson();

    /// <summary>Successes, a failed forward and a request no route matches, so every instrument has data.</summary>
    private static async Task SendMixedTrafficAsync(TestProxy proxy)
    {
        foreach (var path in new[] { "/images/a.jpg", "/images/b.webp", "/dead/a.jpg", "/unrouted" })
        {
            using var response = await proxy.Client.GetAsync(path);
        }
    }

    /// <summary>
    /// The series that requests can create: this host's request metrics. The upstream client's are process-wide
    /// and carry no origin address (every test's proxies share them), so only the check that no label holds a
    /// path covers them.
    /// </summary>
    private static List<string> RequestSeries(MetricsScrape scrape) => scrape.Samples
        .Where(static s => s.Name.StartsWith("lbproxy_", StringComparison.Ordinal)
            || s.Name.StartsWith("http_server_", StringComparison.Ordinal)
            || s.Name.StartsWith("kestrel_", StringComparison.Ordinal))
        .Select(s => s.SeriesKey)
        .Order(StringComparer.Ordinal)
        .ToList();

    private static bool IsRuntimeCountSuffixAdvice(string line) =>
        line.EndsWith("non-histogram and non-summary metrics should not have \"_count\" suffix", StringComparison.Ordinal)
        && line.StartsWith("dotnet_", StringComparison.Ordinal);
}
