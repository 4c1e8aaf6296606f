using System.Net;
using System.Text.Json.Nodes;
using LbProxy.Configuration;
using LbProxy.Health;
using LbProxy.Tests.Infrastructure;

namespace LbProxy.Tests.Functional;

/// <summary>
/// Blue/green pools under fresh names, as an operator's deploys produce them: each reload replaces every cluster,
/// destination and route, with traffic on each. <c>/metrics</c> must stay at one config's worth of series.
/// </summary>
public sealed class MetricsChurnTests
{
    private const int Reloads = 100;

    [Fact]
    public async Task HundredReloadsOfFreshClusterNames_LeaveOneConfigsWorthOfSeries()
    {
        await using var origins = await TestOrigins.StartAsync(2);
        await using var proxy = await TestProxy.StartAsync(ChurnConfig(origins, 0), TestProxy.FastReload);
        var reloader = proxy.Services.GetRequiredService<ConfigReloader>();

        await SendTrafficAsync(proxy);
        await MetricsScrape.TakeAsync(proxy.Client);
        var first = await MetricsScrape.TakeAsync(proxy.Client);
        var firstOwn = OwnSeries(first);
        Assert.Contains(firstOwn, static s => s.Name == "lbproxy_proxy_duration_seconds_count" && s.Labels["cluster"] == "pool-0");
        Assert.Contains(firstOwn, static s => s.Name == "lbproxy_proxy_errors_total" && s.Labels["cluster"] == "dead-0" && s.Value >= 1);
        Assert.Contains(firstOwn, static s => s.Name == "lbproxy_outlier_ejections_total" && s.Labels["destination"] == "a-0");
        Assert.Contains(firstOwn, static s => s.Name == "lbproxy_proxy_retries_total" && s.Labels["cluster"] == "pool-0");

        MetricsScrape? afterReload = null;
        for (var i = 1; i <= Reloads; i++)
        {
            await File.WriteAllTextAsync(proxy.ConfigPath, ChurnConfig(origins, i));
            var status = await reloader.ReloadAsync();
            Assert.True(status.LastReloadSucceeded, status.LastError);
            await SendTrafficAsync(proxy);

            // A scrape each round, as Prometheus would take: what the exporter has seen once, it may keep.
            afterReload = await MetricsScrape.TakeAsync(proxy.Client);
        }

        // The counters of removed clusters are gone at the first scrape after the reload.
        Assert.DoesNotContain(OwnSeries(afterReload!), static s => s.Name.EndsWith("_total", StringComparison.Ordinal) && !IsOfRound(s, Reloads));

        // The duration histogram's at the next: its old series are exported one last time.
        var last = await MetricsScrape.TakeAsync(proxy.Client);
        var lastOwn = OwnSeries(last);
        Assert.DoesNotContain(lastOwn, static s => !IsOfRound(s, Reloads));
        Assert.Equal(Shapes(firstOwn, 0), Shapes(lastOwn, Reloads));

        // Nothing else grew with the churn either: the upstream client's series carry no origin address (a dead
        // destination on a fresh port each round would add its own), and keep HttpClient's bucket boundaries.
        Assert.DoesNotContain(last.Samples, static s => s.Name.StartsWith("http_client_", StringComparison.Ordinal)
            && (s.Labels.ContainsKey("server_address") || s.Labels.ContainsKey("server_port") || s.Labels.ContainsKey("network_peer_address")));
        Assert.Contains(last.Where("http_client_request_duration_seconds_bucket"), static s => s.Labels["le"] == "0.005");

        // The rest may differ by what the runtime adds on its own (a first gen2 GC, a new exception type); the
        // upstream client's series are left out of this count, as they are process-wide and other tests share them.
        var hostSeries = static (MetricsScrape scrape) => scrape.Samples.Where(static s => !s.Name.StartsWith("http_client_", StringComparison.Ordinal)).ToList();
        var grown = hostSeries(last).CountBy(static s => s.Name)
            .Select(f => (f.Key, Growth: f.Value - hostSeries(first).Count(s => s.Name == f.Key)))
            .Where(static f => f.Growth > 0)
            .OrderByDescending(static f => f.Growth)
            .ToList();
        Assert.True(hostSeries(last).Count <= hostSeries(first).Count + 30, "grew: " + string.Join(", ", grown.Take(10)));
    }

    /// <summary>Round i: an image pool and a dead pool, every id carrying i.</summary>
    private static string ChurnConfig(TestOrigins origins, int round) => new TestConfig()
        .Route($"images-{round}", $"pool-{round}", "/images/{**path}")
        .Route($"dead-{round}", $"dead-{round}", "/dead/{**path}")
        .Cluster(
            $"pool-{round}",
            [($"a-{round}", origins[0].Address), ($"b-{round}", origins[1].Address)],
            metadata: new JsonObject { [OutlierEjectionSettings.ConsecutiveKey] = "50" })
        .Cluster(
            $"dead-{round}",
            [($"nobody-{round}", LoopbackPorts.UnusedAddress())])
        .ToJson();

    private static async Task SendTrafficAsync(TestProxy proxy)
    {
        for (var i = 0; i < 4; i++)
        {
            using var image = await proxy.Client.GetAsync($"/images/{i}.jpg");
            Assert.Equal(HttpStatusCode.OK, image.StatusCode);
        }

        // A 502, or a 503 once the refused connection has taken the destination out: an error series either way.
        using var dead = await proxy.Client.GetAsync("/dead/a.jpg");
        Assert.Contains(dead.StatusCode, new[] { HttpStatusCode.BadGateway, HttpStatusCode.ServiceUnavailable });
    }

    /// <summary>The series that name a route, a cluster or a destination.</summary>
    private static List<MetricSample> OwnSeries(MetricsScrape scrape) =>
        [.. scrape.Samples.Where(static s => s.Name.StartsWith("lbproxy_", StringComparison.Ordinal)
            && (s.Labels.ContainsKey("cluster") || s.Labels.ContainsKey("route") || s.Labels.ContainsKey("destination")))];

    private static bool IsOfRound(MetricSample sample, int round) =>
        new[] { "cluster", "route", "destination" }.All(label =>
            !sample.Labels.TryGetValue(label, out var id) || id.Length == 0 || id.EndsWith($"-{round}", StringComparison.Ordinal));

    /// <summary>Each series with its round number taken out of the ids: round 0 and round 100 must have the same.</summary>
    private static List<string> Shapes(List<MetricSample> series, int round) =>
        [.. series
            .Select(s => s.Name + "{" + string.Join(",", s.Labels.OrderBy(static l => l.Key, StringComparer.Ordinal)
                .Select(l => $"{l.Key}={l.Value.Replace($"-{round}", "-N", StringComparison.Ordinal)}")) + "}")
            .Order(StringComparer.Ordinal)];
}
