using System.Net;
using LbProxy.Tests.Infrastructure;
using static LbProxy.Tests.Functional.AdmissionTests;

namespace LbProxy.Tests.Functional;

/// <summary>Adaptive limits against an origin that slows down and recovers; cheaper formats for would-be waiters.</summary>
public sealed class AdmissionAdaptiveAndDegradeTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(40);

    // Accept headers of the degrade test: what each negotiates, and every class it allows.
    private static readonly (string Accept, string Negotiated, string[] Allowed)[] Clients =
    [
        ("image/avif,image/webp,*/*", "avif", ["avif", "webp", "original"]),
        ("image/avif,*/*", "avif", ["avif", "original"]),
        ("image/webp,*/*", "webp", ["webp", "original"]),
        ("image/avif", "avif", ["avif"]),
    ];

    private static readonly Dictionary<string, int> Cost = new() { ["original"] = 0, ["webp"] = 1, ["avif"] = 2 };

    [Fact]
    public async Task Adaptive_OriginSlowedFourTimes_LimitFalls_AndComesBackWhenItRecovers()
    {
        await using var origins = await ConvertersAsync(1, workers: 8, originalMs: 20);
        await using var proxy = await TestProxy.StartAsync(Config(origins, Limits(8, maxQueue: 1000, queueTimeout: "00:00:30", adaptive: true)));
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(120)); // bounded in time; each loop bounded in count
        var loops = Enumerable.Range(0, 12).Select(c => Task.Run(async () =>
        {
            for (var i = 0; i < 100_000 && !stop.IsCancellationRequested; i++)
            {
                try
                {
                    using var response = await proxy.Client.GetAsync($"/images/{c}-{i}.jpg", stop.Token);
                }
                catch (OperationCanceledException)
                {
                }
            }
        })).ToList();

        try
        {
            await Poll.UntilAsync(async () => await LimitAsync(proxy) == 8 && origins[0].Stats.RequestsOf("original") > 200, Bound, "traffic at the full limit");

            origins[0].Behavior.SlowFactor = 4;
            var fallen = await Poll.UntilAsync(() => LimitAsync(proxy), static l => l < 6, Bound, "the limit falling under a slow origin");

            origins[0].Behavior.SlowFactor = 1;
            var back = await Poll.UntilAsync(() => LimitAsync(proxy), static l => l == 8, Bound, "the limit coming back");

            Assert.InRange(fallen, 1, 5);
            Assert.Equal(8, back);
            Assert.InRange(origins[0].Stats.MaxInFlight, 1, 8);
        }
        finally
        {
            await stop.CancelAsync();
            await Task.WhenAll(loops);
        }
    }

    [Fact]
    public async Task Adaptive_LearnsTheTimeToResponseHeaders_NotTheBodysTransfer()
    {
        // Twelve answers whose headers come at once and whose bodies take two seconds more (held at the origin, as a
        // slow-reading client holds them at the edge): the latency the limit learns is the origin's time to answer,
        // not how long the body took to pass. Counted whole, a slow-reading client made a fast origin look slow.
        await using var origin = await CountingOrigin.StartAsync();
        var config = new TestConfig()
            .Route("images", "images", "/images/{**path}")
            .Cluster("images", [("origin", origin.Address)], metadata: Limits(8, maxQueue: 1000, queueTimeout: "00:00:30", adaptive: true))
            .ToJson();
        await using var proxy = await TestProxy.StartAsync(config);
        origin.Hold();
        origin.Release(); // headers at once; only the second half of each body waits
        var answers = Enumerable.Range(0, 12).Select(i => proxy.Client.GetByteArrayAsync($"/images/{i}.jpg?half=1&size=65536&cc=none")).ToList();
        await Poll.UntilAsync(() => origin.Requests >= 8, TimeSpan.FromSeconds(20), "eight answers begun");
        await Task.Delay(2_000);
        origin.ReleaseRest();
        var bodies = await Task.WhenAll(answers);

        var destination = (await AdmissionStatusAsync(proxy))[0]!["destinations"]![0]!;
        var latency = destination["latencyMs"]?.GetValue<double>();
        Assert.All(bodies, static b => Assert.Equal(65536, b.Length));
        Assert.NotNull(latency); // ten answers and 100 ms: one window learned
        Assert.InRange(latency.Value, 0, 500);
    }

    [Fact]
    public async Task Degrade_Overload_SendsOnlyCheaperAcceptedClasses_AndShedsNone()
    {
        await using var origins = await ConvertersAsync(1, workers: 2, originalMs: 3, webpMs: 12, avifMs: 40);
        await using var proxy = await TestProxy.StartAsync(Config(origins,
            Limits(2, maxQueue: 1000, queueTimeout: "00:00:30", degrade: true), accessLogTemplate: "{status} {format} {shed}"));
        const int Count = 160;

        var served = await Task.WhenAll(Enumerable.Range(0, Count).Select(async i =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, $"/images/{i}.jpg");
            request.Headers.TryAddWithoutValidation("Accept", Clients[i % Clients.Length].Accept);
            using var response = await proxy.Client.SendAsync(request);
            return (Index: i, response.StatusCode, Type: response.Content.Headers.ContentType?.MediaType, Vary: string.Join(",", response.Headers.Vary));
        }));

        foreach (var (index, status, type, vary) in served)
        {
            var client = Clients[index % Clients.Length];
            Assert.Equal(HttpStatusCode.OK, status);
            Assert.Contains("Accept", vary, StringComparison.Ordinal);
            var formatClass = type switch { "image/avif" => "avif", "image/webp" => "webp", "image/jpeg" => "original", _ => type };
            Assert.Contains(formatClass, client.Allowed);
            Assert.True(Cost[formatClass!] <= Cost[client.Negotiated], $"{client.Accept} negotiated {client.Negotiated} but got {formatClass}");
        }

        var stats = origins[0].Stats;
        Assert.Equal(Count, stats.RequestsOf("avif") + stats.RequestsOf("webp") + stats.RequestsOf("original"));
        Assert.InRange(stats.MaxInFlight, 1, 2);
        var scrape = await MetricsScrape.TakeAsync(proxy.Client);
        Assert.Equal(0, scrape.Sum("lbproxy_shed_requests_total", ("cluster", "images")));
        var degraded = scrape.Sum("lbproxy_image_degraded_total", ("cluster", "images"));
        Assert.True(degraded > Count / 2, $"an overloaded cluster degrades most would-be waiters: {degraded}");
        Assert.Equal(0, scrape.Sum("lbproxy_image_degraded_total", ("cluster", "images"), ("from", "webp"), ("to", "avif")));

        // The access log shows the class served, as the origin counted it.
        var lines = await proxy.AccessLog.WaitForAsync(Count);
        foreach (var formatClass in new[] { "avif", "webp", "original" })
        {
            Assert.Equal(stats.RequestsOf(formatClass), lines.Count(l => l == $"200 {formatClass} "));
        }
    }

    private static async Task<int> LimitAsync(TestProxy proxy) =>
        (int)(await MetricsScrape.TakeAsync(proxy.Client)).Sum("lbproxy_admission_limit", ("cluster", "images"));
}
