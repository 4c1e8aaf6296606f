using System.Net;
using LbProxy.Tests.Infrastructure;
using Xunit.Abstractions;

namespace LbProxy.Tests.Functional;

/// <summary>
/// Per-request background work must not outlive its request: thousands of requests through the full
/// pipeline leave the process's timers and thread-pool threads where they were at idle. Timer and thread
/// counts are process-wide, so these tests run alone, after the parallel ones.
/// </summary>
[Collection(nameof(RunsAlone))]
public sealed class LeakRegressionTests(ITestOutputHelper output)
{
    private const int Requests = 3000;
    private const int Concurrency = 8;
    private const int WarmUpRequests = 100;
    private static readonly TimeSpan LoadBound = TimeSpan.FromMinutes(3);

    [Fact]
    public async Task FullPipeline_ThousandsOfRequests_TimersAndThreadsReturnToBaseline()
    {
        await using var origins = await TestOrigins.StartAsync(2);
        await using var proxy = await StartAsync(origins, beforeAccessLog: null);
        var baseline = await WarmUpAndMeasureAsync(proxy);

        var sent = await SendLoadAsync(proxy);
        var report = await ResourceLeakDetector.WaitForBaselineAsync(baseline);
        output.WriteLine(report.ToString());

        Assert.Equal(Requests, sent);
        Assert.True(report.Returned, report.ToString());
        // The access log wrote one line per request and dropped none.
        await proxy.AccessLog.WaitForAsync(Requests + WarmUpRequests);
        Assert.Equal(Requests + WarmUpRequests, proxy.AccessLog.Count);
    }

    [Fact]
    public async Task LeakDetector_LoggerWithTimerBuiltPerRequest_ReportsTheLeak()
    {
        await using var origins = await TestOrigins.StartAsync(2);
        LeakyRequestLoggerMiddleware? leaky = null;
        await using var proxy = await StartAsync(origins, app => app.Use(next =>
        {
            leaky = new LeakyRequestLoggerMiddleware(next);
            return leaky.InvokeAsync;
        }));
        try
        {
            var baseline = await WarmUpAndMeasureAsync(proxy);
            leaky!.Arm();

            var sent = await SendLoadAsync(proxy);
            var report = await ResourceLeakDetector.WaitForBaselineAsync(baseline);
            output.WriteLine(report.ToString());

            Assert.Equal(Requests, sent);
            Assert.Equal(Requests, leaky.Created);
            Assert.True(report.Leaked, "the detector must see the leak: " + report);
            // One timer per request is still there.
            Assert.InRange(report.TimerExcess, Requests * 9 / 10, Requests + ResourceLeakDetector.TimerTolerance);
        }
        finally
        {
            leaky?.Dispose();
        }
    }

    private static Task<TestProxy> StartAsync(TestOrigins origins, Action<WebApplication>? beforeAccessLog) =>
        TestProxy.StartAsync(new TestConfig()
            .Route("images", "images", "/images/{**path}")
            .Cluster("images", origins.All)
            .ToJson(), beforeAccessLog);

    /// <summary>Connections, pools and JIT settle with some traffic first; then the idle baseline is taken.</summary>
    private static async Task<ResourceSample> WarmUpAndMeasureAsync(TestProxy proxy)
    {
        for (var i = 0; i < WarmUpRequests; i++)
        {
            using var response = await proxy.Client.GetAsync($"/images/warm-{i}.jpg");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        return await ResourceLeakDetector.MeasureBaselineAsync();
    }

    /// <summary><see cref="Requests"/> requests on <see cref="Concurrency"/> connections, bounded in time.</summary>
    private static async Task<int> SendLoadAsync(TestProxy proxy)
    {
        using var stop = new CancellationTokenSource(LoadBound);
        var next = -1;
        var ok = 0;
        var workers = Enumerable.Range(0, Concurrency).Select(_ => Task.Run(async () =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < Requests && !stop.IsCancellationRequested)
            {
                using var response = await proxy.Client.GetAsync($"/images/load-{i % 500}.jpg", stop.Token);
                await response.Content.ReadAsByteArrayAsync(stop.Token);
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    Interlocked.Increment(ref ok);
                }
            }
        }));
        await Task.WhenAll(workers);
        return ok;
    }
}
