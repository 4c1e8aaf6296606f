using LbProxy.Diagnostics;
using Microsoft.Extensions.Time.Testing;

namespace LbProxy.Tests.Diagnostics;

/// <summary>
/// The per-resource state machine on hand-made readings, one every 2 s as the sampler takes them: where judging
/// starts (warm-up, last clear), the hold before a suspicion (for HoldFor, with the count still rising), the clear
/// (back near the baseline for ClearFor) and the reset when the watchdog is switched off.
/// </summary>
public sealed class LeakSuspicionTests
{
    private static readonly TimeSpan HoldFor = TimeSpan.FromSeconds(20);
    private static readonly TimeSpan ClearFor = TimeSpan.FromSeconds(30);

    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 1, 8, 0, 0, TimeSpan.Zero));
    private readonly LeakSuspicion _suspicion;

    public LeakSuspicionTests() => _suspicion = new LeakSuspicion(_time);

    [Fact]
    public void Advance_NothingMet_StaysOk()
    {
        for (var now = 0; now <= 60; now += 2)
        {
            Assert.Equal(LeakTransition.None, Advance(now, level: 100 + now, hit: null));
        }

        Assert.False(_suspicion.Pending);
        Assert.False(_suspicion.Suspect);
        Assert.Null(_suspicion.Episode);
        Assert.Equal(0, _suspicion.Episodes);
    }

    [Fact]
    public void Advance_MetForHoldForWhileRising_DeclaresOnceWithTheFiguresAndTheTime()
    {
        var hit = Figures(LeakCriterion.Requests);

        // 2 s a sample: pending from 100 s, declared at 120 s, HoldFor later.
        for (var now = 100; now < 120; now += 2)
        {
            Assert.Equal(LeakTransition.None, Advance(now, level: Rising(now), hit: hit, progress: now / 10.0));
            Assert.True(_suspicion.Pending, $"at {now} s");
        }

        _time.Advance(TimeSpan.FromMinutes(2));
        Assert.Equal(LeakTransition.Declared, Advance(120, level: Rising(120), hit: hit, progress: 12));
        Assert.True(_suspicion.Suspect);
        Assert.False(_suspicion.Pending);
        Assert.Equal(hit, _suspicion.Episode!.Figures);
        Assert.Equal(_time.GetUtcNow(), _suspicion.Episode.Since);
        Assert.Equal(1, _suspicion.Episodes);

        Assert.Equal(LeakTransition.None, Advance(122, level: Rising(122), hit: hit, progress: 12.2));
        Assert.Equal(1, _suspicion.Episodes);
    }

    [Fact]
    public void Advance_MetForHoldForButTheCountStopped_StaysPending()
    {
        // A step that has stopped rising is load that stayed, not a leak: a quarter of the threshold (10) is not reached.
        var hit = Figures(LeakCriterion.Time);
        for (var now = 100; now <= 200; now += 2)
        {
            Assert.Equal(LeakTransition.None, Advance(now, level: now < 110 ? 500 + now - 100 : 509, hit: hit, progress: now / 60.0));
        }

        Assert.True(_suspicion.Pending);
        Assert.False(_suspicion.Suspect);
    }

    [Fact]
    public void Advance_RiseBelowHalfOfWhatTheSlopePredicts_StaysPending()
    {
        // Slope 100 per 1,000 requests over 2,000 requests predicts +200; +60 is above a quarter of the threshold, not half of +200.
        var hit = Figures(LeakCriterion.Requests, slope: 100);
        for (var now = 100; now <= 120; now += 2)
        {
            Assert.Equal(LeakTransition.None, Advance(now, level: 500 + (3 * (now - 100)), hit: hit, progress: (now - 100) / 10.0));
        }

        Assert.True(_suspicion.Pending);
    }

    [Fact]
    public void Advance_IdleMetForHoldFor_DeclaresWithoutRise()
    {
        // At idle, not coming back is the condition: a flat count is enough.
        var hit = Figures(LeakCriterion.Idle);
        for (var now = 100; now < 120; now += 2)
        {
            Assert.Equal(LeakTransition.None, Advance(now, level: 700, hit: hit));
        }

        Assert.Equal(LeakTransition.Declared, Advance(120, level: 700, hit: hit));
    }

    [Fact]
    public void Advance_ConditionLostDuringTheHold_HoldsAgainFromTheNextMet()
    {
        var hit = Figures(LeakCriterion.Requests);
        for (var now = 100; now <= 110; now += 2)
        {
            Advance(now, level: Rising(now), hit: hit, progress: now / 10.0);
        }

        Assert.Equal(LeakTransition.None, Advance(112, level: Rising(112), hit: null));
        Assert.False(_suspicion.Pending);

        for (var now = 114; now < 134; now += 2)
        {
            Assert.Equal(LeakTransition.None, Advance(now, level: Rising(now), hit: hit, progress: now / 10.0));
        }

        Assert.Equal(LeakTransition.Declared, Advance(134, level: Rising(134), hit: hit, progress: 13.4));
    }

    [Fact]
    public void Advance_SuspectBackNearItsBaselineForClearFor_Clears()
    {
        Declare();

        // Near: within half the threshold (40 / 2) of the baseline (500).
        for (var now = 200; now < 230; now += 2)
        {
            Assert.Equal(LeakTransition.None, Advance(now, count: 520, hit: null));
            Assert.True(_suspicion.Suspect, $"at {now} s");
        }

        Assert.Equal(LeakTransition.Cleared, Advance(230, count: 520, hit: null));
        Assert.False(_suspicion.Suspect);
        Assert.False(_suspicion.Pending);
        Assert.Equal(230, _suspicion.RestartAt);
        Assert.NotNull(_suspicion.Episode); // kept for the figures of the clear's log line
        Assert.Equal(1, _suspicion.Episodes);
    }

    [Fact]
    public void Advance_SuspectGoesAboveDuringTheClearing_ClearsOnlyClearForAfterItIsBack()
    {
        Declare();
        for (var now = 200; now < 220; now += 2)
        {
            Advance(now, count: 510, hit: null);
        }

        Assert.Equal(LeakTransition.None, Advance(220, count: 521, hit: null));
        for (var now = 222; now < 252; now += 2)
        {
            Assert.Equal(LeakTransition.None, Advance(now, count: 510, hit: null));
        }

        Assert.Equal(LeakTransition.Cleared, Advance(252, count: 510, hit: null));
    }

    [Theory]
    // Near: baseline 500 + half the threshold (20) + 2 per request in flight beyond the 5 of the baseline.
    [InlineData(540, true)] // 15 in flight: up to 540
    [InlineData(530, true)] // 10 in flight: up to 530
    [InlineData(531, false)]
    public void Advance_SuspectUnderLoad_AllowsWhatTheLoadExplains(double count, bool clears)
    {
        Declare(envelopeSlope: 2, baseEnvelope: 5);
        var inFlight = count == 540 ? 15 : 10;
        for (var now = 200; now < 230; now += 2)
        {
            Advance(now, count: count, inFlight: inFlight, hit: null);
        }

        Assert.Equal(clears ? LeakTransition.Cleared : LeakTransition.None, Advance(230, count: count, inFlight: inFlight, hit: null));
    }

    [Fact]
    public void JudgingStartsAt_BeforeAnyClear_IsTheEndOfTheWarmUp()
    {
        Assert.Equal(30, _suspicion.JudgingStartsAt(30));
        Assert.Equal(double.NegativeInfinity, _suspicion.RestartAt);
    }

    [Fact]
    public void JudgingStartsAt_AfterAClear_IsTheClear()
    {
        Declare();
        for (var now = 200; now <= 230; now += 2)
        {
            Advance(now, count: 500, hit: null);
        }

        Assert.Equal(230, _suspicion.JudgingStartsAt(30));
        Assert.Equal(400, _suspicion.JudgingStartsAt(400)); // a later warm-up end still wins
    }

    [Fact]
    public void Advance_SecondLeakAfterAClear_CountsASecondEpisode()
    {
        Declare();
        for (var now = 200; now <= 230; now += 2)
        {
            Advance(now, count: 500, hit: null);
        }

        var second = Figures(LeakCriterion.Idle);
        for (var now = 300; now <= 320; now += 2)
        {
            Advance(now, level: 900, hit: second);
        }

        Assert.True(_suspicion.Suspect);
        Assert.Equal(2, _suspicion.Episodes);
        Assert.Equal(second, _suspicion.Episode!.Figures);
    }

    [Fact]
    public void Reset_WhileSuspect_ClearsAndJudgesAfresh()
    {
        Declare();

        _suspicion.Reset(150);

        Assert.False(_suspicion.Suspect);
        Assert.Equal(150, _suspicion.RestartAt);
        Assert.Equal(1, _suspicion.Episodes);
    }

    [Fact]
    public void Reset_WhilePending_EndsTheHold()
    {
        Advance(100, level: 500, hit: Figures(LeakCriterion.Requests));
        Assert.True(_suspicion.Pending);

        _suspicion.Reset(102);

        Assert.False(_suspicion.Pending);
        Assert.Equal(102, _suspicion.RestartAt);
    }

    [Fact]
    public void Reset_WhileOk_ChangesNothing()
    {
        _suspicion.Reset(150);

        Assert.Equal(double.NegativeInfinity, _suspicion.RestartAt);
    }

    /// <summary>A count rising by 10 a sample: well above a quarter of the threshold over HoldFor.</summary>
    private static double Rising(double now) => 500 + (5 * (now - 100));

    /// <summary>The figures of a condition met: baseline 500, threshold 40, slope 1 (per 1,000 requests or per minute).</summary>
    private static LeakFigures Figures(LeakCriterion criterion, double slope = 1, double envelopeSlope = 0, double baseEnvelope = 0) => new(
        criterion, Met: true, Slope: slope, T: 12, Rise: 80, Baseline: 500, Threshold: 40, WindowSeconds: 40, Requests: 8000, Current: 580,
        BaseEnvelope: baseEnvelope, EnvelopeSlope: envelopeSlope, LoadLevel: 540, InFlightPeak: 5, Reloads: 0);

    /// <summary>Holds an idle condition from 100 s until it is declared, at 120 s.</summary>
    private void Declare(double envelopeSlope = 0, double baseEnvelope = 0)
    {
        var hit = Figures(LeakCriterion.Idle, envelopeSlope: envelopeSlope, baseEnvelope: baseEnvelope);
        for (var now = 100; now <= 120; now += 2)
        {
            Advance(now, level: 600, hit: hit);
        }

        Assert.True(_suspicion.Suspect);
    }

    private LeakTransition Advance(double now, LeakFigures? hit, double level = 0, double count = 0, double inFlight = 0, double progress = 0) =>
        _suspicion.Advance(new LeakReading(now, count, inFlight, level, progress), hit, HoldFor, ClearFor);
}
