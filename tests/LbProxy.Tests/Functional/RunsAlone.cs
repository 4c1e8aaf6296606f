namespace LbProxy.Tests.Functional;

/// <summary>
/// Tests that read process-wide counts (active timers, pool threads): xunit runs this collection on its
/// own, after the parallel ones.
/// </summary>
[CollectionDefinition(nameof(RunsAlone), DisableParallelization = true)]
public sealed class RunsAlone;
