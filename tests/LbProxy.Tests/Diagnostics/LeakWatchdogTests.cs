using System.Diagnostics.Metrics;
using LbProxy.Diagnostics;
using LbProxy.Tests.Infrastructure;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;

namespace LbProxy.Tests.Diagnostics;

/// <summary>
/// The leak model on synthetic processes (<see cref="SyntheticProcess"/>), on the default options, several seeds
/// each: the story's leak is flagged within 10,000 requests at steady and at ramping load, a leak of one timer per
/// 100 requests is flagged later, and healthy traffic, a burst and a reload storm raise nothing.
/// </summary>
public sealed class LeakWatchdogTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private static readonly int[] SeedValues = [1, 2, 3, 4, 5];

    public static TheoryData<int> Seeds => [.. SeedValues];

    [Theory]
    [MemberData(nameof(Seeds))]
    public void Observe_OneTimerPerRequestAtSteadyLoad_SuspectsTimersWithin10000Requests(int seed)
    {
        using var harness = new Harness(seed);
        harness.Run(60);
        var armedAt = harness.Process.Completed;
        harness.Process.TimersLeakedPerRequest = 1;

        var flaggedAt = harness.RunUntilSuspect(WatchedResource.Timers, maxSeconds: 300);

        Assert.NotNull(flaggedAt);
        Assert.InRange(flaggedAt.Value - armedAt, 1, 10_000);
        Assert.Equal(1, harness.WarningsFor("timers"));
        Assert.Equal(1, harness.GaugeOf("timers"));
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public void Observe_OneTimerPerRequestOnARampingLoad_SuspectsTimersWithin10000Requests(int seed)
    {
        using var harness = new Harness(seed) { Process = { Rps = 50 } };
        harness.Run(60);
        var armedAt = harness.Process.Completed;
        harness.Process.TimersLeakedPerRequest = 1;

        // 50 → 300 rps over the next minutes, as the leak rides on it.
        var flaggedAt = harness.RunUntilSuspect(WatchedResource.Timers, maxSeconds: 300, ramp: p => p.Rps = Math.Min(300, p.Rps + 5));

        Assert.NotNull(flaggedAt);
        Assert.InRange(flaggedAt.Value - armedAt, 1, 10_000);
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public void Observe_OneTimerPer100Requests_SuspectsTimersLater(int seed)
    {
        using var harness = new Harness(seed);
        harness.Run(60);
        var armedAt = harness.Process.Completed;
        harness.Process.TimersLeakedPerRequest = 0.01;

        var flaggedAt = harness.RunUntilSuspect(WatchedResource.Timers, maxSeconds: 600);

        Assert.NotNull(flaggedAt);
        Assert.InRange(flaggedAt.Value - armedAt, 1, 60_000);
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public void Observe_CpuPerRequestRisingFromTheFirstRequest_SuspectsCpuPerRequestWithin60Seconds(int seed)
    {
        // A handler per request on a static event at 250 requests/s, as measured on the built proxy with the leak hook:
        // CPU per request rose by about 135 µs per 1,000 requests from about 1,000 µs.
        using var harness = new Harness(seed) { Process = { Rps = 250, CpuLeakMicrosPer1000Requests = 135 } };

        var flaggedAt = RunUntilCpuSuspect(harness, maxSeconds: 120);
        Assert.NotNull(flaggedAt);
        Assert.InRange(harness.Process.Now, 1, 60);
        Assert.False(harness.Watchdog.IsSuspect(WatchedResource.Timers));
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public void Observe_CpuPerRequestRisingFromTheFirstRequestOnABusyMachine_SuspectsCpuPerRequestLater(int seed)
    {
        // The same leak where CPU per request at rest is 2,155 µs (the whole suite's figure, clean-clone CI) and wanders by
        // 10% as other processes come and go, the leak's own cost not growing with it: a rise of half the baseline takes
        // three times as many requests, and is flagged later (76-104 s and once 120+ s on these seeds), not missed.
        using var harness = new Harness(seed) { Process = { Rps = 250, CpuMicrosPerRequest = 2155, CpuWander = 0.10, CpuLeakMicrosPer1000Requests = 135 } };

        var flaggedAt = RunUntilCpuSuspect(harness, maxSeconds: 240);
        Assert.NotNull(flaggedAt);
        Assert.InRange(harness.Process.Now, 1, 180);
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public void Observe_CpuPerRequestRisingSlowly_SuspectsCpuPerRequestLater(int seed)
    {
        // 10 µs per 1,000 requests from 1,000 µs: not steep, never judged early, flagged by the whole model with the whole hold.
        using var harness = new Harness(seed) { Process = { Rps = 250, CpuLeakMicrosPer1000Requests = 10 } };

        var flaggedAt = RunUntilCpuSuspect(harness, maxSeconds: 400);

        Assert.NotNull(flaggedAt);
        Assert.InRange(harness.Process.Now, 60, 400);
    }

    /// <summary>Runs until CPU per request is suspected (or the bound), and writes when and what the watchdog said.</summary>
    private long? RunUntilCpuSuspect(Harness harness, int maxSeconds)
    {
        var flaggedAt = harness.RunUntilSuspect(WatchedResource.CpuPerRequest, maxSeconds);
        output.WriteLine($"flagged at {harness.Process.Now} s: {(harness.Logs.Count > 0 ? harness.Logs.LatestRecord.Message : "no warning")}");
        return flaggedAt;
    }

    public static TheoryData<string, double, int> HealthyStarts
    {
        get
        {
            var data = new TheoryData<string, double, int>();
            foreach (var seed in SeedValues)
            {
                foreach (var rps in new[] { 250.0, 2000.0 })
                {
                    data.Add("noisy", rps, seed);
                    data.Add("decaying", rps, seed);
                    data.Add("tier-up", rps, seed);
                    data.Add("rising", rps, seed);
                }
            }

            return data;
        }
    }

    [Theory]
    [MemberData(nameof(HealthyStarts))]
    public void Observe_HealthyStartUnderLoad_SuspectsNothing(string shape, double rps, int seed)
    {
        // noisy: a busy machine, CPU per request wandering by 10% (measured on this machine at a load average of 20-27: 541
        // to 774 µs over 70 s at 250 requests/s); decaying: the first requests cost three times as much, falling off over
        // 30 s; tier-up: a rise by 30% over the first 25 s that then stays, on a machine wandering by 5%; rising: a rise to
        // more than twice the first figure over 18 s, then a level wandering by 8%.
        using var harness = new Harness(seed) { Process = { Rps = rps } };
        switch (shape)
        {
            case "noisy":
                harness.Process.CpuWander = 0.10;
                break;
            case "decaying":
                harness.Process.CpuStartUpExcess = 2;
                harness.Process.CpuStartUpSeconds = 30;
                break;
            case "tier-up":
                harness.Process.CpuTierUpRise = 0.3;
                harness.Process.CpuWander = 0.05;
                break;
            default:
                // As measured on the built proxy at 250 requests/s, healthy, under a load average of 20-27: about 220 µs
                // per request at first, 700 after 18 s, then wandering.
                harness.Process.CpuMicrosPerRequest = 300;
                harness.Process.CpuStartUpExcess = 0;
                harness.Process.CpuTierUpRise = 1.33;
                harness.Process.CpuTierUpSeconds = 18;
                harness.Process.CpuWander = 0.08;
                break;
        }

        harness.RunHealthy(300);

        Assert.Equal(0, harness.Warnings);
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public void Observe_HealthySteadyTrafficBurstAndReloadStorm_SuspectsNothing(int seed)
    {
        using var harness = new Harness(seed);
        harness.RunHealthy(120);
        harness.Process.ExtraInFlight = 2000; // 2,000 concurrent slow requests for 4 s
        harness.RunHealthy(4);
        harness.Process.ExtraInFlight = 0;
        harness.RunHealthy(60);
        for (var i = 0; i < 30; i++)
        {
            // 200 reloads in 60 s
            harness.Process.Reload();
            harness.Process.Reload();
            harness.Process.Reload();
            harness.Process.Reload();
            harness.Process.Reload();
            harness.Process.Reload();
            harness.Process.Reload();
            harness.RunHealthy(2);
        }

        harness.RunHealthy(300);

        Assert.False(harness.Watchdog.WarmingUp);
        Assert.Equal(0, harness.Warnings);
        Assert.All(Enum.GetValues<WatchedResource>(), r => Assert.Equal(0, harness.GaugeOf(WatchedResources.Name(r))));
    }

    [Fact]
    public void Observe_LeakEndsAndCountReturns_ClearsOnceAndLogsIt()
    {
        using var harness = new Harness(7);
        harness.Run(60);
        harness.Process.TimersLeakedPerRequest = 1;
        Assert.NotNull(harness.RunUntilSuspect(WatchedResource.Timers, maxSeconds: 300));
        harness.Process.TimersLeakedPerRequest = 0;
        harness.Process.FreeLeak();

        harness.Run(60);

        Assert.False(harness.Watchdog.IsSuspect(WatchedResource.Timers));
        Assert.Equal(0, harness.GaugeOf("timers"));
        Assert.Equal(1, harness.WarningsFor("timers"));
        Assert.Single(harness.Logs.GetSnapshot(), r => r.Id.Id == LogEvents.LeakCleared);
        Assert.Equal(1, harness.Watchdog.Status().Resources[(int)WatchedResource.Timers].Episodes);
    }

    [Fact]
    public void Observe_Disabled_SuspectsNothingEvenWithTheLeak()
    {
        using var harness = new Harness(8, o => o.Enabled = false);
        harness.Run(60);
        harness.Process.TimersLeakedPerRequest = 1;

        Assert.Null(harness.RunUntilSuspect(WatchedResource.Timers, maxSeconds: 200));
        Assert.Equal(0, harness.Warnings);
    }

    [Fact]
    public void Status_WhileSuspect_GivesTheFiguresThatConvincedIt()
    {
        using var harness = new Harness(9);
        harness.Run(60);
        harness.Process.TimersLeakedPerRequest = 1;
        Assert.NotNull(harness.RunUntilSuspect(WatchedResource.Timers, maxSeconds: 300));

        var timers = harness.Watchdog.Status().Resources.Single(r => r.Resource == "timers");

        Assert.Equal("suspect", timers.State);
        Assert.Equal("requests", timers.Criterion);
        Assert.InRange(timers.SlopePer1000Requests!.Value, 500, 1500); // one timer per request: 1,000 per 1,000
        Assert.True(timers.Current > timers.Baseline);
        Assert.NotNull(timers.Since);
    }

    private sealed class Harness : IDisposable
    {
        private readonly ServiceProvider _services;
        private readonly MetricCollector<int> _gauge;
        private readonly SampleRing _ring = new(450);

        public Harness(int seed, Action<WatchdogOptions>? configure = null)
        {
            _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
            var meterFactory = _services.GetRequiredService<IMeterFactory>();
            Logs = new FakeLogCollector();
            Watchdog = new LeakWatchdog(_ring, TestOptions.Monitor(configure), meterFactory, new FakeTimeProvider(), new FakeLogger<LeakWatchdog>(Logs));
            _gauge = new MetricCollector<int>(meterFactory, LbProxy.Metrics.LbProxyMeter.Name, LeakWatchdog.SuspectName);
            Process = new SyntheticProcess(seed);
        }

        public SyntheticProcess Process { get; init; }

        public LeakWatchdog Watchdog { get; }

        public FakeLogCollector Logs { get; }

        public int Warnings => Logs.GetSnapshot().Count(r => r.Id.Id == LogEvents.LeakSuspected);

        public void Run(double seconds)
        {
            for (var end = Process.Now + seconds; Process.Now < end;)
            {
                Process.Step(_ring, Watchdog);
            }
        }

        /// <summary>Runs, failing at once if anything becomes a suspect.</summary>
        public void RunHealthy(double seconds)
        {
            for (var end = Process.Now + seconds; Process.Now < end;)
            {
                Process.Step(_ring, Watchdog);
                var suspects = Watchdog.Status().Resources.Where(r => r.State == "suspect").Select(r => r.Resource).ToList();
                Assert.True(suspects.Count == 0, $"at {Process.Now} s: suspected {string.Join(", ", suspects)}");
            }
        }

        /// <summary>The requests completed when <paramref name="resource"/> became a suspect, or null if it did not in time.</summary>
        public long? RunUntilSuspect(WatchedResource resource, double maxSeconds, Action<SyntheticProcess>? ramp = null)
        {
            for (var end = Process.Now + maxSeconds; Process.Now < end;)
            {
                ramp?.Invoke(Process);
                Process.Step(_ring, Watchdog);
                if (Watchdog.IsSuspect(resource))
                {
                    return Process.Completed;
                }
            }

            return null;
        }

        public int WarningsFor(string resource) =>
            Logs.GetSnapshot().Count(r => r.Id.Id == LogEvents.LeakSuspected && r.Message.Contains($"leak of {resource}:", StringComparison.Ordinal));

        public int GaugeOf(string resource)
        {
            _gauge.RecordObservableInstruments();
            return _gauge.GetMeasurementSnapshot().Last(m => Equals(m.Tags["resource"], resource)).Value;
        }

        public void Dispose()
        {
            _gauge.Dispose();
            _services.Dispose();
        }
    }
}
