namespace LbProxy.Diagnostics;

/// <summary>
/// Where one resource's suspicion stands, and the rules that move it. Ok → pending when a sample meets the leak
/// condition; pending → suspect when it has held for <c>HoldFor</c> with the count still rising (a condition met
/// by one spike, or by a step that has stopped, is load, not a leak); suspect → ok once the count has been back near
/// its baseline for <c>ClearFor</c>. Judging starts at the end of the warm-up, and again at each clear, so that an old
/// episode's rise is not judged twice. Written by the sampler's thread only; <see cref="Suspect"/>,
/// <see cref="Pending"/>, <see cref="Episode"/> and <see cref="Episodes"/> are read by status readers on others.
/// </summary>
internal sealed class LeakSuspicion(TimeProvider time)
{
    private volatile LeakEpisode? _episode;
    private volatile bool _suspect;
    private int _episodes;
    private double _pendingSince = double.NaN;
    private double _pendingLevel;
    private double _pendingProgress;
    private double _clearingSince = double.NaN;

    public bool Suspect => _suspect;

    /// <summary>The condition holds, not yet for <c>HoldFor</c> or not yet with the count still rising.</summary>
    public bool Pending => !_suspect && !double.IsNaN(_pendingSince);

    /// <summary>The last suspicion declared; it stays after a clear, and counts only while <see cref="Suspect"/>.</summary>
    public LeakEpisode? Episode => _episode;

    public int Episodes => Volatile.Read(ref _episodes);

    /// <summary>The last clear, or minus infinity before the first.</summary>
    public double RestartAt { get; private set; } = double.NegativeInfinity;

    /// <summary>The earliest sample time a window may start at: the end of the warm-up, or the last clear if later.</summary>
    public double JudgingStartsAt(double warmUpEnds) => Math.Max(warmUpEnds, RestartAt);

    /// <summary>
    /// Moves on by one sample. <paramref name="hit"/> is the figures of the condition met at this sample (by requests,
    /// by time or at idle), or null when it is not met.
    /// </summary>
    public LeakTransition Advance(in LeakReading reading, LeakFigures? hit, TimeSpan holdFor, TimeSpan clearFor) =>
        _suspect ? AdvanceSuspect(reading, clearFor) : AdvanceWatching(reading, hit, holdFor);

    /// <summary>The watchdog was switched off: no suspicion stands, and judging starts afresh when it is on again.</summary>
    public void Reset(double now)
    {
        if (_suspect || !double.IsNaN(_pendingSince))
        {
            Clear(now);
        }
    }

    private LeakTransition AdvanceWatching(in LeakReading reading, LeakFigures? hit, TimeSpan holdFor)
    {
        if (hit is not { } figures)
        {
            _pendingSince = double.NaN;
            return LeakTransition.None;
        }

        if (double.IsNaN(_pendingSince))
        {
            _pendingSince = reading.Now;
            _pendingLevel = reading.RecentLevel;
            _pendingProgress = reading.Progress;
        }

        // Still rising: by a quarter of the threshold, or by half of what the slope predicts since the condition first
        // held, whichever is more. At idle the count need not rise: not coming back is the condition.
        var expected = figures.Criterion == LeakCriterion.Idle ? 0 : figures.Slope * Math.Max(0, reading.Progress - _pendingProgress);
        var risen = reading.RecentLevel - _pendingLevel;
        // An overwhelming window (a cost that doubled, t twice MinT, its recent half still rising) is its own evidence.
        var stillRising = figures.Criterion == LeakCriterion.Idle || figures.Overwhelming || risen >= Math.Max(figures.Threshold / 4, 0.5 * expected);
        if (reading.Now - _pendingSince >= holdFor.TotalSeconds && stillRising)
        {
            _episode = new LeakEpisode(figures, time.GetUtcNow());
            _suspect = true;
            Interlocked.Increment(ref _episodes);
            _clearingSince = double.NaN;
            return LeakTransition.Declared;
        }

        return LeakTransition.None;
    }

    private LeakTransition AdvanceSuspect(in LeakReading reading, TimeSpan clearFor)
    {
        // Back near the baseline: within half the threshold, once what the load present now explains is allowed for.
        var episode = _episode!.Figures;
        var allowance = episode.EnvelopeSlope * Math.Max(0, reading.InFlight - episode.BaseEnvelope);
        if (!(reading.Count - episode.Baseline - allowance <= episode.Threshold / 2))
        {
            // Written as the negation of "near", so that a figure that is not a number never counts as near.
            _clearingSince = double.NaN;
            return LeakTransition.None;
        }

        if (double.IsNaN(_clearingSince))
        {
            _clearingSince = reading.Now;
        }

        if (reading.Now - _clearingSince >= clearFor.TotalSeconds)
        {
            Clear(reading.Now);
            return LeakTransition.Cleared;
        }

        return LeakTransition.None;
    }

    private void Clear(double now)
    {
        _suspect = false;
        _pendingSince = double.NaN;
        _clearingSince = double.NaN;
        RestartAt = now;
    }
}

/// <summary>What a step of <see cref="LeakSuspicion.Advance"/> did, for the watchdog to log.</summary>
internal enum LeakTransition
{
    None,
    Declared,
    Cleared,
}

/// <summary>
/// One resource at one sample, as the state machine needs it: the time (seconds since the sampler started), the count,
/// the load envelope, the count's recent mean (the last three samples, which smooths one sample's noise) and the
/// progress the condition is measured against (thousands of requests served, or minutes).
/// </summary>
internal readonly record struct LeakReading(double Now, double Count, double InFlight, double RecentLevel, double Progress);
