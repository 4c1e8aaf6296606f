using System.Collections.Concurrent;
using System.Net;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using LbProxy.Tests.Infrastructure;
using Xunit.Abstractions;

namespace LbProxy.Tests.Functional;

/// <summary>
/// An HTTP/2 connection flood (h2load: 1,000 TLS connections × 10 streams) against the built program, with two real
/// sample origins in their own processes under the common default file-descriptor limit (<c>ulimit -n 1024</c>), while
/// a well-behaved HTTPS client (HTTP/1.1, eight connections) fetches an image 160 times. The flood must not reach the origins as a flood: they stay
/// up and answer no 5xx, active health never takes them out, the proxy stays alive, and the well-behaved client gets
/// every one of its 160 answers, the origin's exact bytes. Excess flood requests may wait, or get a 503 at the edge.
/// </summary>
[Collection(nameof(RunsAlone))] // 1,000 TLS connections and three processes: the whole machine for some 30 s
public sealed partial class Http2ConnectionFloodTests(ITestOutputHelper output)
{
    private const string Host = "default.test"; // the "*" certificate's name: h2load, to 127.0.0.1, sends no SNI
    private const string Image = "/images/sample.jpg";
    private const int OriginFileLimit = 1024;   // the usual soft RLIMIT_NOFILE of a process nobody tuned
    private const int FloodConnections = 1000;
    private const int FloodStreams = 10;
    private const int FloodSeconds = 20;
    private const int GoodRequests = 160;
    private const int GoodLanes = 8;
    private static readonly TimeSpan StartBound = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan GoodBound = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task ThousandConnectionsTimesTenStreams_OriginsNotOverrun_HealthHolds_TheWellBehavedClientLosesNothing()
    {
        using var directory = new TempDirectory();
        using var certificates = new TestCertificates();
        using var layout = new TlsLayout(certificates);
        await layout.AddAsync("*");
        await using var origin0 = await StartOriginAsync(directory.Path, "origin-0");
        await using var origin1 = await StartOriginAsync(directory.Path, "origin-1");
        var http = LoopbackPorts.Unused();
        var config = await WriteConfigAsync(directory.Path, layout, http, origin0.Address, origin1.Address);
        await using var proxy = await ProxyProcess.StartListeningAsync(directory.Path, environment: null, StartBound, ["--config", config]);
        using var control = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{http}"), Timeout = TimeSpan.FromSeconds(30) };
        using var direct = new HttpClient { BaseAddress = origin0.Address };
        var expected = await direct.GetByteArrayAsync(Image);
        // HTTP/1.1, as a browser's HTTP/1.1 client: one request at a time per connection, a connection per lane.
        using var good = TlsProbe.Client(certificates.Ca, layout.HttpsPort, Host, HttpVersion.Version11);
        // A patient client: on this shared 2-core machine the flood's 1,000 TLS handshakes alone take the CPU for seconds.
        good.Timeout = TimeSpan.FromSeconds(60);
        Assert.Equal(expected, await good.GetByteArrayAsync(Image));

        // The flood, bounded by its duration (and the run by a timeout); health watched while it runs.
        using var watching = new CancellationTokenSource(TimeSpan.FromSeconds(FloodSeconds + 60));
        var unhealthy = WatchHealthAsync(control, watching.Token);
        var originDescriptors = WatchPeakDescriptorsAsync([origin0.Id, origin1.Id], watching.Token);
        var flood = ExternalProgram.RunAsync("h2load",
            ["-c", $"{FloodConnections}", "-m", $"{FloodStreams}", "-D", $"{FloodSeconds}", $"https://127.0.0.1:{layout.HttpsPort}{Image}"],
            timeout: TimeSpan.FromSeconds(FloodSeconds + 60));

        // The well-behaved client starts once the flood is in the proxy (a thousand requests in the server), bounded.
        await Poll.UntilAsync(async () => (await MetricsScrape.TakeAsync(control)).Sum("http_server_active_requests") >= FloodConnections || flood.IsCompleted,
            TimeSpan.FromSeconds(FloodSeconds), "the flood's requests in flight");
        Assert.False(flood.IsCompleted, "the flood ended before the well-behaved client started: " + (flood.IsCompleted ? (await flood).Output : ""));
        var outcomes = new ConcurrentQueue<string>();
        var answeredDuringFlood = 0;
        using var goodBound = new CancellationTokenSource(GoodBound);
        await Task.WhenAll(Enumerable.Range(0, GoodLanes).Select(_ => Task.Run(async () =>
        {
            for (var i = 0; i < GoodRequests / GoodLanes && !goodBound.IsCancellationRequested; i++)
            {
                outcomes.Enqueue(await FetchAsync(good, expected, goodBound.Token));
                if (!flood.IsCompleted)
                {
                    Interlocked.Increment(ref answeredDuringFlood);
                }
            }
        })));

        var (floodExit, floodOutput) = await flood;
        await watching.CancelAsync();
        var unhealthySeen = await unhealthy;
        var peakDescriptors = await originDescriptors;
        var stats0 = await OriginStatsAsync(origin0.Address);
        var stats1 = await OriginStatsAsync(origin1.Address);
        var shed = (await MetricsScrape.TakeAsync(control)).Where("lbproxy_shed_requests_total");
        output.WriteLine(floodOutput);
        output.WriteLine($"shed by the proxy: {string.Join(", ", shed)}");
        output.WriteLine($"answered during the flood: {answeredDuringFlood}; outcomes: {string.Join(", ", outcomes.GroupBy(static o => o).Select(static g => $"{g.Key} x{g.Count()}"))}");
        output.WriteLine($"origin-0: {stats0.ToJsonString()}; origin-1: {stats1.ToJsonString()}; unhealthy seen: [{string.Join(", ", unhealthySeen)}]; origins' peak descriptors: {string.Join(", ", peakDescriptors)}");

        Assert.Equal(0, floodExit);
        Assert.Matches(FloodRan(), floodOutput); // it did make its connections and requests
        Assert.False(proxy.HasExited, proxy.Output);
        Assert.False(origin0.HasExited, origin0.Output);
        Assert.False(origin1.HasExited, origin1.Output);
        // The well-behaved client lost nothing: every request a 200 with the origin's bytes, none shed, none timed out.
        Assert.Equal(Enumerable.Repeat("200", GoodRequests), outcomes);
        // The origins were not overrun: never at their descriptor limit (before: thousands of upstream connections, and an
        // origin aborted with "Out of memory."), no 5xx of theirs, and health never took either out.
        Assert.All(peakDescriptors, peak => Assert.InRange(peak, 1, OriginFileLimit - 64));
        Assert.Equal(0, stats0["serverErrors"]!.GetValue<long>());
        Assert.Equal(0, stats1["serverErrors"]!.GetValue<long>());
        Assert.Empty(unhealthySeen);
        Assert.DoesNotContain("Too many open files", proxy.Output, StringComparison.Ordinal);
        Assert.Equal("ok", (await control.GetStringAsync("/_lb/healthz")).Trim());
    }

    /// <summary>"200", or what the client saw instead: another status, wrong bytes, or the exception's type.</summary>
    private static async Task<string> FetchAsync(HttpClient client, byte[] expected, CancellationToken bound)
    {
        try
        {
            using var response = await client.GetAsync(Image, bound);
            var body = await response.Content.ReadAsByteArrayAsync(bound);
            return response.StatusCode != HttpStatusCode.OK ? $"{(int)response.StatusCode}"
                : body.AsSpan().SequenceEqual(expected) ? "200" : "200 with other bytes";
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or OperationCanceledException)
        {
            return e.GetType().Name;
        }
    }

    /// <summary>Reads /_lb/status every 200 ms until stopped; returns each destination health state seen Unhealthy.</summary>
    private static async Task<HashSet<string>> WatchHealthAsync(HttpClient control, CancellationToken stop)
    {
        var seen = new HashSet<string>();
        while (!stop.IsCancellationRequested)
        {
            try
            {
                var status = JsonNode.Parse(await control.GetStringAsync("/_lb/status", stop))!;
                foreach (var destination in status["clusters"]![0]!["destinations"]!.AsArray())
                {
                    foreach (var kind in (string[])["activeHealth", "passiveHealth"])
                    {
                        if (destination![kind]?.GetValue<string>() == "Unhealthy")
                        {
                            seen.Add($"{destination["id"]} {kind}");
                        }
                    }
                }

                await Task.Delay(TimeSpan.FromMilliseconds(200), stop);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }

        return seen;
    }

    /// <summary>The highest count of open descriptors of each process (<c>/proc/PID/fd</c>), read every 100 ms until stopped.</summary>
    private static async Task<int[]> WatchPeakDescriptorsAsync(int[] processes, CancellationToken stop)
    {
        var peaks = new int[processes.Length];
        while (!stop.IsCancellationRequested)
        {
            for (var i = 0; i < processes.Length; i++)
            {
                try
                {
                    peaks[i] = Math.Max(peaks[i], Directory.GetFiles($"/proc/{processes[i]}/fd").Length);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    // The process is gone (asserted apart) or a descriptor closed while listed.
                }
            }

            try
            {
                await Task.Delay(TimeSpan.FromMilliseconds(100), stop);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }

        return peaks;
    }

    private static async Task<JsonNode> OriginStatsAsync(Uri origin)
    {
        using var client = new HttpClient { BaseAddress = origin, Timeout = TimeSpan.FromSeconds(30) };
        return JsonNode.Parse(await client.GetStringAsync("/_origin/stats"))!;
    }

    /// <summary>A sample origin in its own process (<c>LbProxy origin</c>) under <see cref="OriginFileLimit"/>.</summary>
    private static Task<ProxyProcess> StartOriginAsync(string directory, string id) =>
        ProxyProcess.StartCommandListeningAsync(directory, environment: null, StartBound, "bash",
            ["-c", $"ulimit -n {OriginFileLimit} && exec dotnet '{ProxyProcess.ProgramPath}' origin --urls http://127.0.0.1:0 --id {id}"]);

    private static async Task<string> WriteConfigAsync(string directory, TlsLayout layout, int http, Uri origin0, Uri origin1)
    {
        var config = JsonNode.Parse(new TestConfig()
            .Route("images", "images", "/images/{**path}")
            .Cluster("images", [("origin-0", origin0), ("origin-1", origin1)], healthCheck: TestConfig.FastActiveHealth())
            .ToJson())!.AsObject();
        var kestrel = layout.Kestrel("*");
        kestrel["Endpoints"]!["Http"]!["Url"] = $"http://127.0.0.1:{http}";
        config["Kestrel"] = kestrel;
        config["LbProxy"]!["AccessLog"] = new JsonObject { ["Enabled"] = false };
        var path = Path.Combine(directory, "yarp.json");
        await File.WriteAllTextAsync(path, config.ToJsonString());
        return path;
    }

    [GeneratedRegex(@"requests: \d+ total, [1-9]\d* started, [1-9]\d* done")]
    private static partial Regex FloodRan();
}
