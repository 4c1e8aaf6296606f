namespace LbProxy.Tests.Infrastructure;

/// <summary>The last reading of a <see cref="Poll.TryUntilAsync"/>, and whether the state it waited for was reached.</summary>
internal readonly record struct PollResult<T>(T Last, bool Reached);
