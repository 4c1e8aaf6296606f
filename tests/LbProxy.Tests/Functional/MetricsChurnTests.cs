using LbProxy.Configuration;
using LbProxy.Tests.Infrastructure;
using Xunit.Abstractions;

namespace LbProxy.Tests.Functional;

/// <summary>
/// A config with churn (blue/green pools under fresh names) must not grow /metrics: the series of clusters and
/// destinations a reload removed go away.
/// </summary>
public sealed class MetricsChurnTests(ITestOutputHelper output)
{
    private const int Reloads = 100;
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(20);

    // Not fixed yet (issue 9, item 5): the observable gauges already drop removed destinations, but the
    // synchronous instruments (requests, errors, retries and the duration histogram) keep every removed
    // cluster's series; measured 54 lbproxy_ series after one config, 4,355 after 100 reloads.
    [Fact(Skip = "issue 9 item 5 is open: removed clusters keep their counter and histogram series")]
    public async Task HundredReloadsOfFreshClusterNames_LeaveOneConfigsWorthOfSeries()
    {
        await using var origins = await TestOrigins.StartAsync(2);
        await using var proxy = await TestProxy.StartAsync(Pool(origins, 0), TestProxy.FastReload);
        await TrafficAsync(proxy, 0);
        var first = OwnSeries(await MetricsScrape.TakeAsync(proxy.Client));

        var state = proxy.Services.GetRequiredService<ConfigState>();
        for (var n = 1; n <= Reloads; n++)
        {
            var generation = state.Current.Generation;
            await File.WriteAllTextAsync(proxy.ConfigPath, Pool(origins, n));
            await Poll.UntilAsync(() => state.Current.Generation > generation, Bound, $"reload {n}");
            await TrafficAsync(proxy, n);
        }

        var last = OwnSeries(await MetricsScrape.TakeAsync(proxy.Client));
        output.WriteLine($"lbproxy_ series: {first.Count} after one config, {last.Count} after {Reloads} reloads");
        Assert.DoesNotContain(last, static s => s.Contains("\"pool-0\"", StringComparison.Ordinal) || s.Contains("\"pool-99\"", StringComparison.Ordinal));
        Assert.Contains(last, static s => s.Contains($"\"pool-{Reloads}\"", StringComparison.Ordinal));
        Assert.InRange(last.Count, 1, first.Count);
    }

    /// <summary>Two requests on each destination, one answered 200 and one 404, so every kind of series exists.</summary>
    private static async Task TrafficAsync(TestProxy proxy, int n)
    {
        for (var i = 0; i < 2; i++)
        {
            using var ok = await proxy.Client.GetAsync($"/images/{n}-{i}.jpg");
            using var missing = await proxy.Client.GetAsync($"/images/{n}-{i}.txt");
        }
    }

    private static List<string> OwnSeries(MetricsScrape scrape) =>
        [.. scrape.Samples.Where(static s => s.Name.StartsWith("lbproxy_", StringComparison.Ordinal)).Select(static s => s.SeriesKey)];

    /// <summary>Route <c>images</c> to a cluster and destinations named for generation <paramref name="n"/>, as a blue/green swap does.</summary>
    private static string Pool(TestOrigins origins, int n) => new TestConfig()
        .Route("images", $"pool-{n}", "/images/{**path}")
        .Cluster($"pool-{n}", origins.All.Select((o, i) => ($"pool-{n}-d{i}", o.Address)))
        .ToJson();
}
