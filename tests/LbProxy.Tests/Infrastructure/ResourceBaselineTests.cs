namespace LbProxy.Tests.Infrastructure;

/// <summary>
/// Tests that compare process-wide counts (timers, threads, inotify instances) with a baseline: they run
/// alone, after the parallel tests, so that other tests' proxies do not move the counts.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ResourceBaselineTests
{
    public const string Name = "Resource baseline";
}
