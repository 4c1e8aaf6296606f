namespace LbProxy.Tests.Infrastructure;

/// <summary>The process's active timers and thread-pool threads at one moment.</summary>
internal sealed record ResourceSample(long Timers, int Threads)
{
    public override string ToString() => $"{Timers} timers, {Threads} pool threads";
}
