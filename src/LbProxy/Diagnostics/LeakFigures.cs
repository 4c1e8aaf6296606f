namespace LbProxy.Diagnostics;

/// <summary>How a resource's growth was judged: against requests served, against time at low traffic, or against its idle level.</summary>
internal enum LeakCriterion
{
    Requests,
    Time,
    Idle,
}

/// <summary>
/// One evaluation of one resource over one window: the fitted slope not explained by load, its t-statistic, the
/// rise over the window and the baseline it rose from. A struct, so evaluating costs no allocation; a suspicion
/// keeps its figures in a <see cref="LeakEpisode"/>. <c>Steep</c>: a window that starts before the warm-up ends (for a
/// cost per request, before the warm-up and one HoldFor have passed) whose rise is at least
/// <see cref="LeakWatchdog.SteepFactor"/> times the threshold (for a cost, half its baseline and the threshold) and whose
/// recent slope keeps up with the whole window's; only such a window counts that early, and its condition is held for a
/// fifth of <c>HoldFor</c>. <c>Overwhelming</c>: a cost's steep window with twice the steep rise and a t of twice
/// <c>MinT</c>; declared without a hold.
/// </summary>
internal readonly record struct LeakFigures(
    LeakCriterion Criterion,
    bool Met,
    double Slope,
    double T,
    double Rise,
    double Baseline,
    double Threshold,
    double WindowSeconds,
    long Requests,
    double Current,
    double BaseEnvelope,
    double EnvelopeSlope,
    double LoadLevel,
    double InFlightPeak,
    long Reloads,
    bool Steep = false,
    bool Overwhelming = false);

/// <summary>A suspicion, from its declaration: the figures that convinced the watchdog, published whole to the status readers.</summary>
internal sealed record LeakEpisode(LeakFigures Figures, DateTimeOffset Since);
