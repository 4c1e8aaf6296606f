namespace LbProxy.Tests.Infrastructure;

/// <summary>
/// Tests that compare process-wide counts (active timers, pool threads, inotify instances) with a baseline:
/// xunit runs this collection on its own, after the parallel ones, so that other tests' proxies do not move
/// the counts.
/// </summary>
[CollectionDefinition(nameof(RunsAlone), DisableParallelization = true)]
public sealed class RunsAlone;
