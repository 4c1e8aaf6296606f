namespace LbProxy.Tests.Infrastructure;

/// <summary>What <see cref="ResourceLeakDetector"/> found: whether the counts came back to the baseline, and where they stood.</summary>
internal sealed record LeakReport(ResourceSample Baseline, ResourceSample Last, bool Returned, long TimerExcess, int ThreadExcess)
{
    public bool Leaked => !Returned;

    public override string ToString() =>
        $"{(Returned ? "back at baseline" : "LEAK")}: baseline {Baseline}, last {Last} (+{TimerExcess} timers, +{ThreadExcess} threads)";
}
