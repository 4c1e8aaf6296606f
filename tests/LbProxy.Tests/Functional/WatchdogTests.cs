using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using LbProxy.Configuration;
using LbProxy.Diagnostics;
using LbProxy.Tests.Infrastructure;
using Xunit.Abstractions;

namespace LbProxy.Tests.Functional;

/// <summary>
/// The watchdog on a real proxy, on its defaults, through what a healthy edge lives through: steady traffic, a burst
/// of 2,000 concurrent slow requests, a storm of 200 config reloads, then steady traffic again. Nothing may be
/// suspected at any point. (The leak it must see is in <see cref="LiveUiBrowserTests"/>.) Process-wide counts, so alone.
/// </summary>
[Collection(nameof(RunsAlone))]
public sealed class WatchdogTests(ITestOutputHelper output)
{
    private const int Burst = 2000;
    private const int Reloads = 200;

    [Fact]
    public async Task Watchdog_SteadyTrafficBurstAndReloadStorm_SuspectsNothing()
    {
        await using var origins = await TestOrigins.StartAsync(2);
        await using var slow = await TestOrigins.StartAsync(1, "slow");
        slow[0].Behavior.DelayMs = 2000;
        await using var proxy = await TestProxy.StartAsync(Config(origins, slow, "a"), TestProxy.FastReload);
        var watchdog = proxy.Services.GetRequiredService<LeakWatchdog>();
        var ring = proxy.Services.GetRequiredService<SampleRing>();
        var config = proxy.Services.GetRequiredService<ConfigState>();
        await using var paced = new PacedTraffic(proxy.Client, workers: 4, TimeSpan.FromMilliseconds(20), bound: TimeSpan.FromMinutes(4));

        // Steady, past the warm-up, so that the windows hold judged samples.
        await Poll.UntilAsync(() => !watchdog.WarmingUp, TimeSpan.FromSeconds(60), "the watchdog's warm-up to end");
        await WaitSamplesAsync(ring, 5);

        // 2,000 concurrent requests that each take 2 s, from a client that then goes away.
        using (var burstClient = new HttpClient(new SocketsHttpHandler { UseCookies = false }) { BaseAddress = proxy.Address, Timeout = TimeSpan.FromSeconds(60) })
        {
            var answers = await Task.WhenAll(Enumerable.Range(0, Burst).Select(async i =>
            {
                using var response = await burstClient.GetAsync($"/slow/burst-{i}.jpg");
                return response.StatusCode;
            }));
            Assert.Equal(Burst, answers.Count(s => s == HttpStatusCode.OK));
        }

        // 200 reloads, each awaited until applied.
        var generation = config.Current.Generation;
        for (var i = 1; i <= Reloads; i++)
        {
            // Written aside and renamed over, as editors and ConfigMaps do: each write is one whole new file.
            var next = proxy.ConfigPath + ".next";
            await File.WriteAllTextAsync(next, Config(origins, slow, i % 2 == 0 ? "a" : "b"));
            File.Move(next, proxy.ConfigPath, overwrite: true);
            var expected = generation + i;
            await Poll.UntilAsync(() => config.Current.Generation >= expected, TimeSpan.FromSeconds(10), $"reload {i} to apply");
        }

        // Steady again, long enough for a false suspicion of any of it to be declared (hold 20 s).
        await WaitSamplesAsync(ring, 13);

        var status = watchdog.Status();
        output.WriteLine(JsonSerializer.Serialize(status));
        Assert.False(status.WarmingUp);
        Assert.All(status.Resources, r => Assert.True(r.Episodes == 0 && r.State != "suspect", $"{r.Resource} was suspected: {JsonSerializer.Serialize(r)}"));
        var scrape = await MetricsScrape.TakeAsync(proxy.Client);
        foreach (var resource in Enum.GetValues<WatchedResource>())
        {
            Assert.Equal(0, scrape.Single("lbproxy_watchdog_suspect", ("resource", WatchedResources.Name(resource))));
        }

        // The watchdog saw what it judged: the burst in its load envelope, the reloads in the generation.
        var peak = 0;
        for (var s = ring.Oldest; s <= ring.Newest; s++)
        {
            peak = Math.Max(peak, ring.InFlightPeak[ring.Row(s)]);
        }

        Assert.InRange(peak, Burst / 2, Burst + 100);
        Assert.True(ring.At(ring.Generation, ring.Newest) >= generation + Reloads);
        Assert.InRange(paced.Failed, 0, 0);
    }

    private static async Task WaitSamplesAsync(SampleRing ring, int samples)
    {
        var target = ring.Newest + samples;
        await Poll.UntilAsync(() => ring.Newest >= target, TimeSpan.FromSeconds((samples * 2) + 30), $"{samples} more samples");
    }

    private static string Config(TestOrigins origins, TestOrigins slow, string marker) => new TestConfig()
        .Route("images", "images", "/images/{**path}")
        .Route("slow", "slow", "/slow/{**path}")
        .Cluster("images", origins.All, metadata: new JsonObject { ["Marker"] = marker })
        .Cluster("slow", slow.All)
        // The burst is 2,000 requests in flight at one origin: above the edge's default cap of a cluster's requests in
        // flight (512 a destination), whose 503s are not what this test is about.
        .LbProxy("Forwarding", new JsonObject { ["MaxRequestsPerDestination"] = Burst + 100 })
        .ToJson();
}
