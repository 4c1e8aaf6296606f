using LbProxy.Diagnostics;
using LbProxy.Tests.Infrastructure;
using Xunit.Abstractions;

namespace LbProxy.Tests.Diagnostics;

/// <summary>
/// The census of live timers by owner, in this test process: 100,000 timers of one callback and 1,000 async loops
/// awaiting Task.Delay are counted to the one and named as a reader would; a lambda and a local function are named
/// by their method; growth against a baseline names only what grew. Process-wide timers, so alone.
/// </summary>
[Collection(nameof(RunsAlone))]
public sealed class RuntimeCensusTests(ITestOutputHelper output)
{
    private const int Timers = 100_000;
    private const int Loops = 1_000;

    [Fact]
    public async Task TakeTimers_100000TimersAnd1000DelayLoops_CountsEachOwnerExactly()
    {
        var before = RuntimeCensus.TakeTimers(RuntimeCensus.MaxOwners);
        Assert.True(before.Available, before.Unavailable);
        var timers = new List<Timer>(Timers);
        using var stop = new CancellationTokenSource();
        var loops = new List<Task>(Loops);
        try
        {
            for (var i = 0; i < Timers; i++)
            {
                timers.Add(new Timer(PerRequestLogger.UpdateTimestamp, null, TimeSpan.FromMinutes(10), TimeSpan.FromMinutes(10)));
            }

            for (var i = 0; i < Loops; i++)
            {
                loops.Add(PerRequestLogger.TimestampLoopAsync(stop.Token));
            }

            var census = RuntimeCensus.TakeTimers(top: 10);
            for (var i = 0; i < 3; i++)
            {
                output.WriteLine($"{census.Walked} timers walked in {census.ElapsedMs:F1} ms, longest lock {census.LongestLockMs:F1} ms");
                census = RuntimeCensus.TakeTimers(top: 10);
            }

            foreach (var entry in census.Owners)
            {
                output.WriteLine($"{entry.Count,8} {entry.Owner}");
            }

            Assert.True(census.Available);
            Assert.False(census.Truncated);
            Assert.InRange(census.Walked, Timers + Loops, Timers + Loops + 10_000);
            Assert.Equal("RuntimeCensusTests.PerRequestLogger.UpdateTimestamp", census.Owners[0].Owner);
            Assert.Equal(Timers, census.Owners[0].Count);
            var loop = Assert.Single(census.Owners, o => o.Owner == "RuntimeCensusTests.PerRequestLogger.TimestampLoopAsync awaiting Task.Delay");
            Assert.Equal(Loops, loop.Count);
            Assert.InRange(census.Owners.Count, 2, 10);

            // Growth names the timers' owner; the loops grew by less than a twentieth of that, and are left out.
            var grown = RuntimeCensus.Growth(before.Owners, RuntimeCensus.TakeTimers(RuntimeCensus.MaxOwners).Owners, top: 3);
            var leader = Assert.Single(grown);
            Assert.Equal(("RuntimeCensusTests.PerRequestLogger.UpdateTimestamp", Timers), (leader.Owner, leader.Growth));
            var both = RuntimeCensus.Growth(before.Owners, [new("RuntimeCensusTests.PerRequestLogger.UpdateTimestamp", 10_000), new("Other", 600), new("Noise", 3)], top: 3);
            Assert.Equal(["RuntimeCensusTests.PerRequestLogger.UpdateTimestamp", "Other"], both.Select(g => g.Owner));
        }
        finally
        {
            foreach (var timer in timers)
            {
                await timer.DisposeAsync();
            }

            await stop.CancelAsync();
            await Task.WhenAll(loops.Select(l => l.ContinueWith(static _ => { }, TaskScheduler.Default)));
        }
    }

    [Fact]
    public async Task TakeTimers_LambdaLocalFunctionAndPeriodicTimer_NamedByTheirMethod()
    {
        using var stop = new CancellationTokenSource();
        using var lambda = new Timer(static _ => { }, null, TimeSpan.FromMinutes(10), Timeout.InfiniteTimeSpan);
        using var local = new Timer(Tick, null, TimeSpan.FromMinutes(10), Timeout.InfiniteTimeSpan);
        var periodic = PeriodicLoopAsync(stop.Token);
        try
        {
            var owners = RuntimeCensus.TakeTimers(RuntimeCensus.MaxOwners).Owners.Select(o => o.Owner).ToList();
            Assert.Contains("RuntimeCensusTests.TakeTimers_LambdaLocalFunctionAndPeriodicTimer_NamedByTheirMethod (lambda)", owners);
            Assert.Contains("RuntimeCensusTests.TakeTimers_LambdaLocalFunctionAndPeriodicTimer_NamedByTheirMethod.Tick", owners);
            Assert.Contains("RuntimeCensusTests.PeriodicLoopAsync awaiting PeriodicTimer", owners);
        }
        finally
        {
            await stop.CancelAsync();
            await periodic.ContinueWith(static _ => { }, TaskScheduler.Default);
        }

        static void Tick(object? state)
        {
        }
    }

    [Fact]
    public void TakeQueue_ReadsTheQueueWithinItsBound()
    {
        var census = RuntimeCensus.TakeQueue(top: 5);
        Assert.True(census.Available, census.Unavailable);
        Assert.InRange(census.Read, 0, RuntimeCensus.MaxQueueItems);
        Assert.InRange(census.Owners.Count, 0, 5);
    }

    private static async Task PeriodicLoopAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromMinutes(10));
        while (await timer.WaitForNextTickAsync(cancellationToken))
        {
        }
    }

    /// <summary>The story's logger, by name: a timer per instance, or an endless loop awaiting Task.Delay.</summary>
    private static class PerRequestLogger
    {
        public static void UpdateTimestamp(object? state)
        {
        }

        public static async Task TimestampLoopAsync(CancellationToken cancellationToken)
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                await Task.Delay(TimeSpan.FromMinutes(10), cancellationToken);
            }
        }
    }
}
