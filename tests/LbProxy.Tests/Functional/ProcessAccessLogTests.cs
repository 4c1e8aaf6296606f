using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.Json.Nodes;
using LbProxy.SampleOrigin;
using LbProxy.Tests.Infrastructure;

namespace LbProxy.Tests.Functional;

/// <summary>
/// The program as operators run it, a child process whose stdout is read line by line: the access log,
/// the log level switches and the graceful stop, seen from outside.
/// </summary>
public sealed class ProcessAccessLogTests : IDisposable
{
    private const string Token = "process-test-token";
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);
    private readonly DirectoryInfo _directory = Directory.CreateTempSubdirectory("lbproxy-process-");

    [Fact]
    public async Task Serve_ProxiedRequests_ExactlyOneDefaultLineEachAndNoneForControlOrMetrics()
    {
        await using var origins = await TestOrigins.StartAsync(2);
        await using var proxy = await StartAsync(origins, new Dictionary<string, string> { ["LBPROXY_CONTROL_TOKEN"] = Token });
        using var client = Client(proxy);

        // Control-plane and metrics requests first: none may give a line.
        string[] skipped = ["/_lb/healthz", "/_lb/readyz", "/_LB/healthz", "/_lb//readyz/", "/_lb/nope", "/metrics", "/_lb/status"];
        foreach (var path in skipped)
        {
            using var response = await client.GetAsync(path);
        }

        var spelled = await RawHttp.GetAsync(client.BaseAddress!, "/x/../_lb/status", "Bearer " + Token);
        Assert.Equal(200, spelled.StatusCode);

        // Then proxied requests, look-alikes included. Lines are written in order by one writer: once the
        // last one is out, every earlier line is too, and the count is final.
        const int n = 60;
        var paths = new List<string>();
        for (var i = 0; i < n - 2; i++)
        {
            paths.Add($"/images/{i}.jpg?w={i}");
        }

        paths.Add("/_lbx.jpg");
        paths.Add("/images/_lb/x.jpg");
        foreach (var path in paths)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, path);
            request.Headers.UserAgent.ParseAdd("process-test/1.0");
            using var response = await client.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        Assert.True(await proxy.WaitForLineAsync(l => l.Contains(" GET /images/_lb/x.jpg 200 ", StringComparison.Ordinal), Bound) >= 0,
            "the last line arrived:\n" + proxy.Output);
        var accessLines = proxy.StandardOutput.Where(l => AccessLogFormat.DefaultLine().IsMatch(l)).ToList();
        Assert.Equal(n, accessLines.Count);
        for (var i = 0; i < n; i++)
        {
            Assert.EndsWith($" GET {paths[i]} 200  process-test/1.0", accessLines[i]);
        }

        Assert.DoesNotContain(proxy.StandardOutput, l => l.Contains("/_lb", StringComparison.OrdinalIgnoreCase) && !l.Contains("x.jpg", StringComparison.Ordinal));
        Assert.DoesNotContain(proxy.StandardOutput, l => l.Contains("/metrics", StringComparison.Ordinal));
        Assert.Equal(n, origins[0].RequestCount + origins[1].RequestCount); // "/metrics" is answered by LbProxy, not forwarded

        // The status endpoint counts what was skipped and why.
        using var status = new HttpRequestMessage(HttpMethod.Get, "/_lb/status");
        status.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Token);
        using var statusResponse = await client.SendAsync(status);
        using var json = JsonDocument.Parse(await statusResponse.Content.ReadAsStringAsync());
        var accessLog = json.RootElement.GetProperty("accessLog");
        Assert.Equal(n, accessLog.GetProperty("written").GetInt64());
        Assert.Equal(skipped.Length + 1, accessLog.GetProperty("skipped").GetProperty("path").GetInt64());
        Assert.Equal(0, accessLog.GetProperty("dropped").GetInt64());
    }

    [Fact]
    public async Task Serve_LogLevelSwitches_DebugLinesAppearAtOnceAndStopAfterTtlOrSigusr2()
    {
        await using var origins = await TestOrigins.StartAsync(1);
        await using var proxy = await StartAsync(origins);
        using var client = Client(proxy);

        // Information: a control request gives no debug line.
        using (await client.GetAsync("/_lb/healthz"))
        {
        }

        Assert.DoesNotContain(proxy.StandardOutput, IsDebug);

        // PUT with a ttl: debug lines at once, then the configured level again.
        using var bad = await client.PutAsync("/_lb/loglevel?level=Chatty", null);
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        using var put = await client.PutAsync("/_lb/loglevel?level=Debug&ttl=2", null);
        Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        using (await client.GetAsync("/_lb/healthz"))
        {
        }

        Assert.True(await proxy.WaitForLineAsync(l => IsDebug(l) && l.Contains("healthz", StringComparison.Ordinal), Bound) >= 0, proxy.Output);
        var reverted = await proxy.WaitForLineAsync(l => l.Contains("Log level set to Information by ttl expired", StringComparison.Ordinal), Bound);
        Assert.True(reverted >= 0, proxy.Output);
        await AssertNoDebugLineAfterAsync(proxy, client, reverted);

        // SIGUSR1: Debug; SIGUSR2: back.
        proxy.Signal(ProxyProcess.SigUsr1);
        var toDebug = await proxy.WaitForLineAsync(l => l.Contains("Log level set to Debug by SIGUSR1", StringComparison.Ordinal), Bound);
        Assert.True(toDebug >= 0, proxy.Output);
        using (await client.GetAsync("/_lb/readyz"))
        {
        }

        Assert.True(await proxy.WaitForLineAsync(l => IsDebug(l) && l.Contains("readyz", StringComparison.Ordinal), Bound, toDebug) >= 0, proxy.Output);
        proxy.Signal(ProxyProcess.SigUsr2);
        var back = await proxy.WaitForLineAsync(l => l.Contains("Log level set to Information by SIGUSR2", StringComparison.Ordinal), Bound);
        Assert.True(back >= 0, proxy.Output);
        await AssertNoDebugLineAfterAsync(proxy, client, back);
        Assert.False(proxy.HasExited);
    }

    [Fact]
    public async Task Serve_AtDebug_AProxiedRequestLogsItsRouteClusterDestinationAndAttempts_AtInformationNothing()
    {
        await using var origins = await TestOrigins.StartAsync(1);
        var config = Path.Combine(_directory.FullName, "yarp.json");
        // a-refusing sorts first and stays in (passive health off): every request tries it, then origin-0.
        File.WriteAllText(config, new TestConfig()
            .Route("everything", "images", "/{**path}")
            .Cluster("images", [("a-refusing", LoopbackPorts.UnusedAddress()), (origins[0].Id, origins[0].Address)], "FirstAlphabetical",
                healthCheck: new JsonObject { ["Passive"] = new JsonObject { ["Enabled"] = false } })
            .ToJson());
        await using var proxy = await ProxyProcess.StartListeningAsync(_directory.FullName, null, Bound,
            ["--config", config, "--urls", "http://127.0.0.1:0", "--LbProxy:Control:ShutdownGrace", "00:00:00"]);
        using var client = Client(proxy);

        // Information: the access line, nothing else about the request.
        using (var atInformation = await client.GetAsync("/images/at-information.jpg"))
        {
            Assert.Equal(HttpStatusCode.OK, atInformation.StatusCode);
        }

        var informationLine = await proxy.WaitForLineAsync(l => l.Contains(" GET /images/at-information.jpg 200 ", StringComparison.Ordinal), Bound);
        Assert.True(informationLine >= 0, proxy.Output);
        Assert.DoesNotContain(proxy.StandardOutput, l => IsDebug(l) || l.Contains("origin-0", StringComparison.Ordinal)
            || l.Contains("a-refusing", StringComparison.Ordinal) || l.Contains("INF] Yarp", StringComparison.Ordinal));

        // Debug, through the endpoint: what the proxy decided, attempt by attempt, and YARP's own forwarder lines.
        using var put = await client.PutAsync("/_lb/loglevel?level=Debug", null);
        Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        using (var atDebug = await client.GetAsync("/images/at-debug.jpg"))
        {
            Assert.Equal(HttpStatusCode.OK, atDebug.StatusCode);
        }

        var summary = await proxy.WaitForLineAsync(l => IsDebug(l) && l.Contains(
            "Proxied GET /images/at-debug.jpg by route everything to cluster images: 200 from destination origin-0 after 2 attempt(s)",
            StringComparison.Ordinal), Bound, informationLine);
        Assert.True(summary > informationLine, proxy.Output);
        var debug = proxy.StandardOutput.Skip(informationLine + 1).Take(summary - informationLine).ToList();
        Assert.Contains(debug, l => IsDebug(l) && l.Contains("Attempt 1 of cluster images to destination a-refusing failed: Request, nothing was sent", StringComparison.Ordinal));
        Assert.Contains(debug, l => IsDebug(l) && l.Contains("destination a-refusing failed before responding; attempt 2 on an untried destination, nothing was sent, outside the budget", StringComparison.Ordinal));
        Assert.Contains(debug, l => IsDebug(l) && l.Contains("Attempt 2 of cluster images to destination origin-0: upstream answered 200", StringComparison.Ordinal));
        Assert.Contains(debug, l => l.Contains("] Yarp.ReverseProxy.Forwarder.", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Sigterm_ReadinessTurns503AtOnceServesThroughGraceDrainsInFlightAndExitsZero()
    {
        await using var origins = await TestOrigins.StartAsync(1);
        await using var proxy = await StartAsync(origins, environment: null,
            "--LbProxy:Control:ShutdownGrace", "00:00:04", "--LbProxy:Control:DrainTimeout", "00:00:30");
        using var client = Client(proxy);
        using var ready = await client.GetAsync("/_lb/readyz");
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);

        // A slow request, in flight at SIGTERM and still in flight when the grace period ends.
        origins[0].Behavior.DelayMs = 6000;
        var slow = client.GetAsync("/images/slow.jpg");
        await Poll.UntilAsync(() => origins[0].RequestCount == 1, Bound, "the slow request reaching the origin");
        proxy.Signal(ProxyProcess.SigTerm);

        // Readiness is 503 at once, while requests are still served.
        using var readiness = new HttpClient { BaseAddress = client.BaseAddress, Timeout = Bound };
        await Poll.UntilAsync(
            async () =>
            {
                using var response = await readiness.GetAsync("/_lb/readyz");
                return response.StatusCode == HttpStatusCode.ServiceUnavailable;
            },
            Bound,
            "readiness turning 503");
        origins[0].Behavior.DelayMs = 0;
        using var during = await readiness.GetAsync("/images/during-grace.jpg");
        Assert.Equal(HttpStatusCode.OK, during.StatusCode);

        using var slowResponse = await slow;
        Assert.Equal(HttpStatusCode.OK, slowResponse.StatusCode);
        Assert.Equal("image/jpeg", slowResponse.Content.Headers.ContentType?.MediaType);
        Assert.Equal(0, await proxy.WaitForExitAsync(Bound));
        // The in-flight request's line was written before the exit.
        Assert.Contains(proxy.StandardOutput, l => l.Contains(" GET /images/slow.jpg 200 ", StringComparison.Ordinal));
        Assert.Contains(proxy.StandardOutput, l => l.Contains(" GET /images/during-grace.jpg 200 ", StringComparison.Ordinal));
    }

    public void Dispose() => _directory.Delete(recursive: true);

    private static bool IsDebug(string line) => line.Contains(" DBG] ", StringComparison.Ordinal);

    /// <summary>A proxied request's line is the marker: once it is out, any debug line of the request before it would be too.</summary>
    private static async Task AssertNoDebugLineAfterAsync(ProxyProcess proxy, HttpClient client, int from)
    {
        using (await client.GetAsync("/_lb/healthz"))
        {
        }

        var marker = "/images/marker-" + Guid.NewGuid().ToString("N") + ".jpg";
        using (await client.GetAsync(marker))
        {
        }

        var at = await proxy.WaitForLineAsync(l => l.Contains(marker, StringComparison.Ordinal), Bound, from);
        Assert.True(at > from, proxy.Output);
        Assert.DoesNotContain(proxy.StandardOutput.Skip(from + 1), IsDebug);
    }

    private static HttpClient Client(ProxyProcess proxy) => new() { BaseAddress = proxy.Address, Timeout = Bound };

    private Task<ProxyProcess> StartAsync(TestOrigins origins, IReadOnlyDictionary<string, string>? environment = null, params string[] args)
    {
        var config = Path.Combine(_directory.FullName, "yarp.json");
        File.WriteAllText(config, TestConfig.CatchAll(origins.All));
        return ProxyProcess.StartListeningAsync(_directory.FullName, environment, Bound,
            ["--config", config, "--urls", "http://127.0.0.1:0", "--LbProxy:Control:ShutdownGrace", "00:00:00", .. args]);
    }
}
