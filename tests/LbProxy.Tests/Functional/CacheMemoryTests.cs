using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;
using LbProxy.Tests.Infrastructure;
using Xunit.Abstractions;

namespace LbProxy.Tests.Functional;

/// <summary>
/// The hot set's limit in a real process: filling it with four times its limit keeps the process's peak RSS
/// (VmHWM) under its RSS before the fill (after the same traffic through an uncached route) plus the limit plus
/// 32 MiB, and the hot set itself at or under the limit.
/// </summary>
public sealed class CacheMemoryTests(ITestOutputHelper output) : IAsyncLifetime
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(120);
    private const long Limit = 64L * 1024 * 1024;
    private const int ObjectBytes = 100 * 1024;

    private readonly DirectoryInfo _directory = Directory.CreateTempSubdirectory("lbproxy-cache-rss-");
    private CountingOrigin _origin = null!;

    public async Task InitializeAsync() => _origin = await CountingOrigin.StartAsync();

    public async Task DisposeAsync()
    {
        await _origin.DisposeAsync();
        _directory.Delete(recursive: true);
    }

    [Fact]
    public async Task FillingFourTimesTheLimit_PeakRssUnderIdlePlusLimitPlus32MiB()
    {
        var config = Path.Combine(_directory.FullName, "yarp.json");
        var cache = new JsonObject { ["SizeLimitBytes"] = Limit, ["MaxObjectBytes"] = 1024 * 1024 };
        await File.WriteAllTextAsync(config, CacheConfig.For(_origin.Address, cache));
        await using var proxy = await ProxyProcess.StartListeningAsync(_directory.FullName, null, Bound,
            ["--config", config, "--urls", "http://127.0.0.1:0", "--LbProxy:Control:ShutdownGrace", "00:00:00", "--LbProxy:AccessLog:Enabled", "false"]);
        using var client = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 16 }) { BaseAddress = proxy.Address, Timeout = Bound };

        // Warm: the same traffic (16 at a time, 100 KiB answers) through the uncached route brings the proxy path's own
        // buffers and connections to their size (measured: +19 MiB over a fresh process), and hits and misses of the
        // cached route run once (JIT), with next to nothing stored: what is left to grow is the hot set's.
        await SendAsync(client, static i => $"/plain/warm{i}.jpg?size={ObjectBytes}", 400);
        await SendAsync(client, static i => $"/images/warm{i % 5}.jpg?size=1000", 50);

        var idle = Status(proxy.Id, "VmRSS");
        var objects = (int)(4 * Limit / ObjectBytes);
        var (sent, failures) = await SendAsync(client, static i => $"/images/fill{i}.jpg?size={ObjectBytes}", objects);

        var peak = Status(proxy.Id, "VmHWM");
        var status = JsonNode.Parse(await client.GetStringAsync("/_lb/status"))!["cache"]!;

        output.WriteLine($"idle {idle / 1048576.0:F1} MiB, peak {peak / 1048576.0:F1} MiB, hot set {(long)status["bytes"]! / 1048576.0:F1} MiB of {Limit / 1048576} MiB");
        Assert.Equal(0, failures);
        Assert.Equal(objects, sent);
        Assert.True((long)status["bytes"]! <= Limit, $"hot set {status["bytes"]} bytes, over {Limit}");
        Assert.True((long)status["evictions"]! > objects / 2, $"{status["evictions"]} evictions for {objects} objects of which a quarter fit");
        Assert.True(peak <= idle + Limit + (32L * 1024 * 1024),
            $"peak RSS {peak / 1048576.0:F1} MiB over idle {idle / 1048576.0:F1} MiB + limit {Limit / 1048576} MiB + 32 MiB");
    }

    /// <summary>Sends <paramref name="count"/> GETs, 16 at a time, within <see cref="Bound"/>; returns how many were sent and how many failed.</summary>
    private static async Task<(int Sent, int Failures)> SendAsync(HttpClient client, Func<int, string> path, int count)
    {
        var next = -1;
        var sent = 0;
        var failures = 0;
        using var stop = new CancellationTokenSource(Bound);
        await Task.WhenAll(Enumerable.Range(0, 16).Select(async _ =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < count && !stop.IsCancellationRequested)
            {
                using var response = await client.GetAsync(path(i), stop.Token);
                var body = await response.Content.ReadAsByteArrayAsync(stop.Token);
                Interlocked.Increment(ref sent);
                if (response.StatusCode != HttpStatusCode.OK || body.Length == 0)
                {
                    Interlocked.Increment(ref failures);
                }
            }
        }));
        return (sent, failures);
    }

    /// <summary>A <c>/proc/PID/status</c> field in bytes.</summary>
    private static long Status(int pid, string field)
    {
        var line = File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith(field + ":", StringComparison.Ordinal));
        return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
    }
}
