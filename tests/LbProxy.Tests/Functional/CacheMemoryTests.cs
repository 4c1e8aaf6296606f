using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;
using LbProxy.Tests.Infrastructure;

namespace LbProxy.Tests.Functional;

/// <summary>
/// The hot set's limit in a real process: filling it with four times its limit keeps the process's peak RSS
/// (VmHWM) under its RSS before the fill plus the limit plus 32 MiB, and the hot set itself at or under the limit.
/// </summary>
public sealed class CacheMemoryTests : IAsyncLifetime
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

        // Warm: every path of a hit and a miss has run (JIT, pools, connections), with next to nothing stored.
        for (var i = 0; i < 50; i++)
        {
            using var warm = await client.GetAsync($"/images/warm{i % 5}.jpg?size=1000");
            Assert.Equal(HttpStatusCode.OK, warm.StatusCode);
        }

        var idle = Status(proxy.Id, "VmRSS");
        var objects = (int)(4 * Limit / ObjectBytes);
        var next = -1;
        var failures = 0;
        using var stop = new CancellationTokenSource(Bound);
        await Task.WhenAll(Enumerable.Range(0, 16).Select(async _ =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < objects && !stop.IsCancellationRequested)
            {
                using var response = await client.GetAsync($"/images/fill{i}.jpg?size={ObjectBytes}", stop.Token);
                var body = await response.Content.ReadAsByteArrayAsync(stop.Token);
                if (response.StatusCode != HttpStatusCode.OK || body.Length != ObjectBytes)
                {
                    Interlocked.Increment(ref failures);
                }
            }
        }));

        var peak = Status(proxy.Id, "VmHWM");
        var status = JsonNode.Parse(await client.GetStringAsync("/_lb/status"))!["cache"]!;

        Assert.Equal(0, failures);
        Assert.True(next >= objects, $"only {next} of {objects} objects sent within {Bound}");
        Assert.True((long)status["bytes"]! <= Limit, $"hot set {status["bytes"]} bytes, over {Limit}");
        Assert.True((long)status["evictions"]! > objects / 2, $"{status["evictions"]} evictions for {objects} objects of which a quarter fit");
        Assert.True(peak <= idle + Limit + (32L * 1024 * 1024),
            $"peak RSS {peak / 1048576.0:F1} MiB over idle {idle / 1048576.0:F1} MiB + limit {Limit / 1048576} MiB + 32 MiB");
    }

    /// <summary>A <c>/proc/PID/status</c> field in bytes.</summary>
    private static long Status(int pid, string field)
    {
        var line = File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith(field + ":", StringComparison.Ordinal));
        return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
    }
}
