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
/// keeps its figures in a <see cref="LeakEpisode"/>. <c>Steep</c>: the rise is at least <see cref="LeakWatchdog.SteepFactor"/>
/// times the threshold and the recent slope keeps up with the whole window's; such a condition is held for a fifth of
/// <c>HoldFor</c>, and only such a condition is met by a window that starts before the warm-up ends.
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
    bool Steep = false);

/// <summary>A suspicion, from its declaration: the figures that convinced the watchdog, published whole to the status readers.</summary>
internal sealed record LeakEpisode(LeakFigures Figures, DateTimeOffset Since);
