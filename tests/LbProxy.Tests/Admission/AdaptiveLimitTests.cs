using LbProxy.Admission;
using Microsoft.Extensions.Time.Testing;

namespace LbProxy.Tests.Admission;

/// <summary>The adaptive limit, driven window by window on a fake clock: no timing, only the algorithm.</summary>
public sealed class AdaptiveLimitTests
{
    private const int Ceiling = 16;
    private static readonly TimeSpan Fast = TimeSpan.FromMilliseconds(20);
    private static readonly TimeSpan Slow = TimeSpan.FromMilliseconds(80);

    [Fact]
    public void SteadyOrigin_UsingItsLimit_KeepsTheCeiling()
    {
        var (limit, time) = Start();

        Windows(limit, time, 50, Fast, inFlight: Ceiling);

        Assert.Equal(Ceiling, limit.Limit);
    }

    [Fact]
    public void OriginSlowedFourTimes_LatencyFollowingTheLimit_LimitFallsWithinAFewWindows_AndComesBackWhenItRecovers()
    {
        var (limit, time) = Start();
        Windows(limit, time, 30, Fast, inFlight: Ceiling);

        // A queue inside the origin: the fewer it is sent at once, the sooner each answers (Slow at the ceiling, a
        // quarter of the way down at 4).
        for (var w = 0; w < 10; w++)
        {
            Window(limit, time, Slow * limit.Limit / Ceiling, Ceiling, error: false);
        }

        var fallen = limit.Limit;
        Assert.True(fallen <= Ceiling / 2, $"after 10 slow windows (1 s): {fallen}");

        var recovered = WindowsUntil(limit, time, Fast, inFlight: Ceiling, until: l => l.Limit == Ceiling, max: 100);
        Assert.True(recovered <= 40, $"back to the ceiling after {recovered} fast windows");
    }

    [Fact]
    public void OriginSlowedFourTimes_LatencyNotFollowingTheLimit_LimitFalls_ThenRelearnsAndComesBackWhileSlow()
    {
        var (limit, time) = Start();
        Windows(limit, time, 30, Fast, inFlight: Ceiling);

        // A worker-pool origin that slowed: each answer takes Slow at 1 in flight as at 16 (its workers idle when
        // fewer are sent). The limit falls at first, as for any slow-down, but halving it changes nothing.
        var lowest = Ceiling;
        var windows = WindowsUntil(limit, time, Slow, inFlight: Ceiling, until: l =>
        {
            lowest = Math.Min(lowest, l.Limit);
            return lowest <= Ceiling / 2 && l.Limit == Ceiling;
        }, max: 100);

        Assert.InRange(lowest, 1, Ceiling / 2);
        Assert.Equal(Ceiling, limit.Limit);
        Assert.InRange(windows, 1, 40);
    }

    [Fact]
    public void Errors_LowerTheLimit_EvenAtUsualLatency()
    {
        var (limit, time) = Start();
        Windows(limit, time, 10, Fast, inFlight: Ceiling);

        Windows(limit, time, 10, Fast, inFlight: Ceiling, error: true);

        Assert.True(limit.Limit <= Ceiling / 2, $"{limit.Limit}");
    }

    [Fact]
    public void IdleDestination_DoesNotGrowPastWhatItUses()
    {
        var (limit, time) = Start();
        Windows(limit, time, 10, Fast, inFlight: Ceiling);
        Windows(limit, time, 10, Slow, inFlight: Ceiling);
        var before = limit.Limit;
        Assert.True(before < Ceiling, $"{before}");

        Windows(limit, time, 50, Fast, inFlight: 1); // uses 1 slot: its latency says nothing about more

        Assert.Equal(before, limit.Limit);
    }

    [Fact]
    public void Limit_StaysWithinOneAndTheCeiling_AndFollowsALowerCeiling()
    {
        var (limit, time) = Start();
        Windows(limit, time, 200, TimeSpan.FromSeconds(2), inFlight: Ceiling, error: true);
        Assert.Equal(1, limit.Limit);

        limit.SetCeiling(4);
        WindowsUntil(limit, time, Fast, inFlight: Ceiling, until: l => false, max: 200);
        Assert.Equal(4, limit.Limit);
    }

    [Fact]
    public void FewSamples_OrAShortWindow_ChangeNothing()
    {
        var (limit, time) = Start();
        for (var i = 0; i < AdaptiveLimit.MinWindowSamples - 1; i++)
        {
            time.Advance(TimeSpan.FromSeconds(1));
            limit.Record(TimeSpan.FromSeconds(5), error: true, Ceiling);
        }

        Assert.Equal(Ceiling, limit.Limit); // under 10 samples, however long

        var (other, otherTime) = Start();
        for (var i = 0; i < 1000; i++)
        {
            otherTime.Advance(TimeSpan.FromMicroseconds(50)); // 1000 samples in 50 ms: one window not yet over
            other.Record(TimeSpan.FromSeconds(5), error: true, Ceiling);
        }

        Assert.Equal(Ceiling, other.Limit);
    }

    private static (AdaptiveLimit Limit, FakeTimeProvider Time) Start()
    {
        var time = new FakeTimeProvider();
        return (new AdaptiveLimit(Ceiling, time), time);
    }

    /// <summary>Feeds whole windows: MinWindowSamples samples spread over MinWindow.</summary>
    private static void Windows(AdaptiveLimit limit, FakeTimeProvider time, int count, TimeSpan rtt, int inFlight, bool error = false)
    {
        for (var w = 0; w < count; w++)
        {
            Window(limit, time, rtt, inFlight, error);
        }
    }

    private static int WindowsUntil(AdaptiveLimit limit, FakeTimeProvider time, TimeSpan rtt, int inFlight, Func<AdaptiveLimit, bool> until, int max)
    {
        for (var w = 1; w <= max; w++)
        {
            Window(limit, time, rtt, inFlight, error: false);
            if (until(limit))
            {
                return w;
            }
        }

        return max;
    }

    private static void Window(AdaptiveLimit limit, FakeTimeProvider time, TimeSpan rtt, int inFlight, bool error)
    {
        var step = AdaptiveLimit.MinWindow / AdaptiveLimit.MinWindowSamples;
        for (var i = 0; i < AdaptiveLimit.MinWindowSamples; i++)
        {
            time.Advance(step);
            limit.Record(rtt, error, inFlight);
        }
    }
}
