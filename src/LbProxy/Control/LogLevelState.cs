namespace LbProxy.Control;

/// <summary>The loglevel endpoint's answer: the level in force, the configured one, and when a switch reverts.</summary>
internal sealed record LogLevelState(string Level, string Configured, DateTimeOffset? RevertAt);
