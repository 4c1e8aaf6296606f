using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;
using LbProxy.Tests.Infrastructure;

namespace LbProxy.Tests.Functional;

/// <summary>
/// One of two origins goes silent under load, the other stays healthy: black-holed (it accepts and answers nothing),
/// stopped (SIGSTOP of its real process: the kernel still accepts for it), or with a full accept queue (its connects
/// time out). No GET fails; none waits longer than one timeout plus the healthy origin's time; and only the requests
/// in flight when it went silent wait at all, since the first timeout takes the destination out at once, with no
/// active probe in these clusters to confirm it.
/// </summary>
public sealed class AvailabilityTimeoutTests
{
    private const int Loops = 4;
    private const int RequestsPerLoop = 40;
    private static readonly TimeSpan ActivityTimeout = TimeSpan.FromSeconds(4);
    private static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(1);
    /// <summary>Generous for a healthy origin's answer on a loaded machine; still less than a second timeout.</summary>
    private static readonly TimeSpan Slack = TimeSpan.FromSeconds(3);
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(120);

    [Fact]
    public async Task OneOriginBlackHoled_NoGetFails_OnlyRequestsInFlightWaitOneTimeout()
    {
        await using var healthy = await TestOrigins.StartAsync(1);
        using var hole = new BlackHoleOrigin();
        await using var proxy = await StartProxyAsync([("hole", hole.Address), (healthy[0].Id, healthy[0].Address)]);

        var results = await TimedLoopsAsync(proxy.Client, Loops, RequestsPerLoop);

        AssertNoneFailed(results, ActivityTimeout);
    }

    [Fact]
    public async Task OneOriginStopped_NoGetFails_OnlyRequestsInFlightWaitOneTimeout()
    {
        using var directory = new TempDirectory();
        await using var healthy = await TestOrigins.StartAsync(1);
        await using var stopped = ProxyProcess.Start(directory.Path, "origin", "--urls", "http://127.0.0.1:0", "--id", "stopped");
        var stoppedAddress = await stopped.WaitUntilListeningAsync(Bound);
        await using var proxy = await StartProxyAsync([("stopped", stoppedAddress), (healthy[0].Id, healthy[0].Address)]);
        // Both answer first, so the proxy holds pooled connections to the one about to stop, and the one about to stop
        // is in: a first answer slower than a timeout on a loaded machine (a fresh process's JIT) takes it out for 10 s,
        // and then nothing would be sent to it while stopped (CI once saw exactly that: no request waited at all).
        await WarmUntilInAsync(proxy, "stopped");

        stopped.Signal(SigStop);
        try
        {
            var results = await TimedLoopsAsync(proxy.Client, Loops, RequestsPerLoop);
            AssertNoneFailed(results, ActivityTimeout);
        }
        finally
        {
            stopped.Signal(SigCont);
        }
    }

    [Fact]
    public async Task OneOriginsConnectsTimeOut_RetriedOutsideAnEmptyBudget_NoGetFails()
    {
        await using var healthy = await TestOrigins.StartAsync(1);
        using var full = new BlackHoleOrigin(full: true);
        // No retry budget at all: only a retry of a failure that sent nothing can happen. A connect that timed out sent
        // nothing (before: retried within the budget, so here not at all: a 504).
        await using var proxy = await StartProxyAsync([("full", full.Address), (healthy[0].Id, healthy[0].Address)],
            "--LbProxy:Retry:BudgetPercent", "0", "--LbProxy:Retry:MinRetriesPerSecond", "0");

        var results = await TimedLoopsAsync(proxy.Client, Loops, RequestsPerLoop);

        AssertNoneFailed(results, ConnectTimeout);
    }

    /// <summary>Warm rounds (bounded) until <paramref name="destinationId"/> has answered and <c>/_lb/status</c> shows it available.</summary>
    private static async Task WarmUntilInAsync(TestProxy proxy, string destinationId)
    {
        using var bound = new CancellationTokenSource(Bound);
        while (true)
        {
            var warm = await TimedLoopsAsync(proxy.Client, Loops, 10);
            Assert.All(warm, static r => Assert.Equal(200, r.Status));
            var status = JsonNode.Parse(await proxy.Client.GetStringAsync("/_lb/status", bound.Token))!;
            var destination = status["clusters"]!.AsArray()
                .SelectMany(static c => c!["destinations"]!.AsArray())
                .Single(d => d!["id"]!.GetValue<string>() == destinationId)!;
            if (destination["available"]!.GetValue<bool>() && destination["requests"]!.GetValue<long>() > 0)
            {
                return;
            }

            await Task.Delay(TimeSpan.FromSeconds(1), bound.Token);
        }
    }

    private const int SigStop = 19;
    private const int SigCont = 18;

    private static Task<TestProxy> StartProxyAsync(IEnumerable<(string Id, Uri Address)> destinations, params string[] extraArgs) =>
        TestProxy.StartAsync(new TestConfig()
                .Route("images", "images", "/images/{**path}")
                .Cluster("images", destinations)
                .ToJson(),
            [
                "--LbProxy:Forwarding:ActivityTimeout", ActivityTimeout.ToString(),
                "--LbProxy:Forwarding:ConnectTimeout", ConnectTimeout.ToString(),
                .. extraArgs,
            ]);

    private static void AssertNoneFailed(IReadOnlyList<Result> results, TimeSpan timeout)
    {
        Assert.Equal(Loops * RequestsPerLoop, results.Count);
        Assert.Empty(results.Where(static r => r.Status != 200).Select(static r => $"{r.Status} {r.Error}"));
        // One timeout and the healthy origin's answer at most: never two timeouts in a row.
        Assert.InRange(results.Max(static r => r.Took), TimeSpan.Zero, timeout + Slack);
        // Only what was in flight when the origin went silent waited (one per loop, once more after the destination's
        // 10 s out if the run lasts that long); before, every request balanced onto it did, until a failure rate built.
        Assert.InRange(results.Count(r => r.Took >= timeout), 1, 2 * Loops);
    }

    private sealed record Result(int? Status, TimeSpan Took, string? Error);

    /// <summary><paramref name="loops"/> clients, each sending <paramref name="perLoop"/> GETs one after another, each timed.</summary>
    private static async Task<IReadOnlyList<Result>> TimedLoopsAsync(HttpClient client, int loops, int perLoop)
    {
        using var bound = new CancellationTokenSource(Bound);
        var all = await Task.WhenAll(Enumerable.Range(0, loops).Select(loop => Task.Run(async () =>
        {
            var results = new List<Result>(perLoop);
            for (var i = 0; i < perLoop; i++)
            {
                var clock = Stopwatch.StartNew();
                try
                {
                    using var response = await client.GetAsync($"/images/loop-{loop}-{i}.jpg", bound.Token);
                    await response.Content.ReadAsByteArrayAsync(bound.Token);
                    results.Add(new Result((int)response.StatusCode, clock.Elapsed,
                        response.StatusCode == HttpStatusCode.OK ? null : await response.Content.ReadAsStringAsync(CancellationToken.None)));
                }
                catch (Exception e) when (e is HttpRequestException or OperationCanceledException)
                {
                    results.Add(new Result(null, clock.Elapsed, e.Message));
                }
            }

            return results;
        })));
        return [.. all.SelectMany(static r => r)];
    }
}
