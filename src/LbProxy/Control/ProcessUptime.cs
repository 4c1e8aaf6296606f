namespace LbProxy.Control;

/// <summary>When this proxy started, for the status and runtime endpoints. Created with the pipeline, at start.</summary>
internal sealed class ProcessUptime(TimeProvider time)
{
    private readonly long _startTimestamp = time.GetTimestamp();

    public DateTimeOffset StartedAt { get; } = time.GetUtcNow();

    public TimeSpan Elapsed => time.GetElapsedTime(_startTimestamp);
}
