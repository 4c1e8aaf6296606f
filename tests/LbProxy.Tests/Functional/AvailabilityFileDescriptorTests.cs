using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using LbProxy.Hosting;
using LbProxy.Tests.Infrastructure;

namespace LbProxy.Tests.Functional;

/// <summary>
/// The built program under a low file-descriptor limit (<c>ulimit -n</c> in the shell that execs it, soft and hard
/// alike, so the start cannot raise it). Too low to run: a clear refusal with its exit code. Enough to run, under an
/// HTTP/2 flood whose streams outnumber the limit (h2load: 8 connections × 100 streams): the upstream connections stay
/// under the cap derived from the limit, the process never runs out of descriptors, no destination is taken out for
/// it, every request is answered, /_lb/healthz answers, and SIGTERM ends it cleanly.
/// </summary>
public sealed partial class AvailabilityFileDescriptorTests
{
    private const int Limit = 512;
    private const int Requests = 30_000;
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(120);

    [Fact]
    public async Task LimitTooLowToRun_RefusesToStart_NamingTheLimitAndTheMinimum()
    {
        using var directory = new TempDirectory();
        await using var origins = await TestOrigins.StartAsync(1);
        var config = await WriteConfigAsync(directory.Path, origins, LoopbackPorts.Unused(), LoopbackPorts.Unused());
        await using var proxy = StartUnderLimit(directory.Path, 256, config);

        var exit = await proxy.WaitForExitAsync(Bound);

        // Before: the runtime aborted while loading its assemblies ("Out of memory.", SIGABRT: 134).
        Assert.Equal(FileDescriptorLimit.ExitTooLow, exit);
        Assert.Contains("file-descriptor limit (RLIMIT_NOFILE) is 256", proxy.Output, StringComparison.Ordinal);
        Assert.Contains($"at least {FileDescriptorLimit.Minimum}", proxy.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("Out of memory", proxy.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Http2StreamsOutnumberTheLimit_UpstreamConnectionsCapped_ProcessSurvivesAndStopsCleanly()
    {
        using var directory = new TempDirectory();
        await using var origins = await TestOrigins.StartAsync(2);
        var http1 = LoopbackPorts.Unused();
        var http2 = LoopbackPorts.Unused();
        var config = await WriteConfigAsync(directory.Path, origins, http1, http2);
        await using var proxy = StartUnderLimit(directory.Path, Limit, config);
        await proxy.WaitUntilListeningAsync(Bound);
        using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{http1}"), Timeout = TimeSpan.FromSeconds(30) };

        // The sampler's upstream connection count, read once a second while the flood runs.
        using var flooding = new CancellationTokenSource(Bound);
        var peak = WatchPeakUpstreamConnectionsAsync(client, flooding.Token);
        var (h2Exit, h2Output) = await ExternalProgram.RunAsync("h2load",
            ["-n", $"{Requests}", "-c", "8", "-m", "100", $"http://127.0.0.1:{http2}/images/sample.jpg"], timeout: Bound);
        await flooding.CancelAsync();
        var peakUpstream = await peak;

        Assert.False(proxy.HasExited, proxy.Output);
        Assert.Equal(0, h2Exit);
        var summary = RequestsLine().Match(h2Output);
        Assert.True(summary.Success, h2Output);
        Assert.Equal(Requests, int.Parse(summary.Groups["done"].Value));       // every request answered
        Assert.Equal(0, int.Parse(summary.Groups["errored"].Value));
        Assert.True(int.Parse(StatusLine().Match(h2Output).Groups["ok"].Value) > Requests / 2, h2Output);
        // Capped: half of what the limit leaves past the reserve. Before: one connection per stream in flight, ~800.
        Assert.InRange(peakUpstream, 1, (Limit - FileDescriptorLimit.Reserve) / 2);
        // Never out of descriptors (before: "Too many open files" on connects and on the config file's reads), and no
        // destination taken out for this machine's own failures.
        Assert.DoesNotContain("Too many open files", proxy.Output, StringComparison.Ordinal);
        var status = JsonNode.Parse(await client.GetStringAsync("/_lb/status"))!;
        foreach (var destination in status["clusters"]![0]!["destinations"]!.AsArray())
        {
            Assert.NotEqual("Unhealthy", destination!["passiveHealth"]!.GetValue<string>());
        }

        Assert.Equal("ok", (await client.GetStringAsync("/_lb/healthz")).Trim());
        proxy.Signal(ProxyProcess.SigTerm);
        Assert.Equal(0, await proxy.WaitForExitAsync(Bound));
    }

    private static ProxyProcess StartUnderLimit(string directory, int limit, string config) =>
        ProxyProcess.StartCommand(directory, environment: null, "bash", "-c",
            $"ulimit -n {limit} && exec dotnet '{ProxyProcess.ProgramPath}' --config '{config}'");

    private static async Task<string> WriteConfigAsync(string directory, TestOrigins origins, int http1, int http2)
    {
        var config = JsonNode.Parse(new TestConfig()
            .Route("images", "images", "/images/{**path}")
            .Cluster("images", origins.All)
            .ToJson())!.AsObject();
        // Cleartext HTTP/2 (prior knowledge, as h2load speaks it) needs an endpoint of HTTP/2 alone.
        config["Kestrel"] = new JsonObject
        {
            ["Endpoints"] = new JsonObject
            {
                ["h1"] = new JsonObject { ["Url"] = $"http://127.0.0.1:{http1}" },
                ["h2"] = new JsonObject { ["Url"] = $"http://127.0.0.1:{http2}", ["Protocols"] = "Http2" },
            },
        };
        config["LbProxy"]!["AccessLog"] = new JsonObject { ["Enabled"] = false };
        var path = Path.Combine(directory, "yarp.json");
        await File.WriteAllTextAsync(path, config.ToJsonString());
        return path;
    }

    private static async Task<long> WatchPeakUpstreamConnectionsAsync(HttpClient client, CancellationToken stop)
    {
        long peak = 0;
        while (!stop.IsCancellationRequested)
        {
            try
            {
                var runtime = JsonNode.Parse(await client.GetStringAsync("/_lb/runtime", stop))!;
                peak = Math.Max(peak, runtime["latest"]?["upstreamConnections"]?.GetValue<long>() ?? 0);
                await Task.Delay(TimeSpan.FromMilliseconds(250), stop);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }

        return peak;
    }

    [GeneratedRegex(@"requests: (?<total>\d+) total, \d+ started, (?<done>\d+) done, \d+ succeeded, \d+ failed, (?<errored>\d+) errored")]
    private static partial Regex RequestsLine();

    [GeneratedRegex(@"status codes: (?<ok>\d+) 2xx")]
    private static partial Regex StatusLine();
}
