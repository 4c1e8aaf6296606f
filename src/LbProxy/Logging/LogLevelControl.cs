using Microsoft.Extensions.Options;
using Serilog.Core;
using Serilog.Events;

namespace LbProxy.Logging;

/// <summary>
/// Switches the minimum level of LbProxy's log at runtime through the one Serilog level switch, for the
/// loglevel endpoint and the SIGUSR1/SIGUSR2 signals. A switch may carry a time to live, after which the
/// configured level comes back: a debug session left on by mistake ends by itself.
/// </summary>
internal sealed partial class LogLevelControl : IDisposable
{
    private readonly LoggingLevelSwitch _levelSwitch;
    private readonly IOptionsMonitor<LoggingOptions> _configured;
    private readonly TimeProvider _time;
    private readonly ILogger<LogLevelControl> _logger;
    private readonly Lock _lock = new();
    private ITimer? _revertTimer;
    private DateTimeOffset? _revertAt;
    private long _generation;

    public LogLevelControl(
        LoggingLevelSwitch levelSwitch,
        IOptionsMonitor<LoggingOptions> configured,
        TimeProvider time,
        ILogger<LogLevelControl> logger)
    {
        _levelSwitch = levelSwitch;
        _configured = configured;
        _time = time;
        _logger = logger;
    }

    public LogLevelState State
    {
        get
        {
            lock (_lock)
            {
                return new LogLevelState(_levelSwitch.MinimumLevel.ToString(), _configured.CurrentValue.Level.ToString(), _revertAt);
            }
        }
    }

    /// <summary>
    /// Parses a level by Serilog's names, or by Microsoft.Extensions.Logging's (Trace, Critical); numbers and
    /// unknown names are refused.
    /// </summary>
    public static bool TryParseLevel(string? text, out LogEventLevel level)
    {
        level = default;
        // Enum.TryParse also takes numbers ("5") and flag lists ("Debug,Error"): neither is a level.
        if (string.IsNullOrWhiteSpace(text) || !text.Trim().All(char.IsAsciiLetter))
        {
            return false;
        }

        if (text.Equals("Trace", StringComparison.OrdinalIgnoreCase))
        {
            level = LogEventLevel.Verbose;
            return true;
        }

        if (text.Equals("Critical", StringComparison.OrdinalIgnoreCase))
        {
            level = LogEventLevel.Fatal;
            return true;
        }

        return Enum.TryParse(text, ignoreCase: true, out level) && Enum.IsDefined(level);
    }

    /// <summary>Sets the level; with a <paramref name="ttl"/>, the configured level returns after it.</summary>
    public LogLevelState Set(LogEventLevel level, TimeSpan? ttl, string source)
    {
        lock (_lock)
        {
            Apply(level, ttl);
        }

        if (ttl is { } seconds)
        {
            LogLevelChangedFor(_logger, level, source, seconds.TotalSeconds);
        }
        else
        {
            LogLevelChanged(_logger, level, source);
        }

        return State;
    }

    /// <summary>Back to the configured level; cancels a pending revert.</summary>
    public LogLevelState Reset(string source) => Set(_configured.CurrentValue.Level, null, source);

    public void Dispose()
    {
        lock (_lock)
        {
            _revertTimer?.Dispose();
            _revertTimer = null;
        }
    }

    /// <summary>Under the lock: the level, and the one revert timer of this generation of settings.</summary>
    private void Apply(LogEventLevel level, TimeSpan? ttl)
    {
        _revertTimer?.Dispose();
        _revertTimer = null;
        _revertAt = null;
        var generation = ++_generation;
        if (ttl is { } after)
        {
            _revertAt = _time.GetUtcNow() + after;
            _revertTimer = _time.CreateTimer(static state =>
            {
                var (control, generation) = (Tuple<LogLevelControl, long>)state!;
                control.RevertExpired(generation);
            }, Tuple.Create(this, generation), after, Timeout.InfiniteTimeSpan);
        }

        _levelSwitch.MinimumLevel = level;
    }

    private void RevertExpired(long generation)
    {
        var level = _configured.CurrentValue.Level;
        lock (_lock)
        {
            // A newer switch may have come while this callback was on its way: it wins.
            if (generation != _generation)
            {
                return;
            }

            Apply(level, null);
        }

        LogLevelChanged(_logger, level, "ttl expired");
    }

    [LoggerMessage(EventId = LogEvents.LogLevelChanged, Level = LogLevel.Information, Message = "Log level set to {Level} by {Source}")]
    private static partial void LogLevelChanged(ILogger logger, LogEventLevel level, string source);

    [LoggerMessage(EventId = LogEvents.LogLevelChangedFor, Level = LogLevel.Information,
        Message = "Log level set to {Level} by {Source}; the configured level returns after {TtlSeconds} s")]
    private static partial void LogLevelChangedFor(ILogger logger, LogEventLevel level, string source, double ttlSeconds);
}

/// <summary>The loglevel endpoint's answer: the level in force, the configured one, and when a switch reverts.</summary>
internal sealed record LogLevelState(string Level, string Configured, DateTimeOffset? RevertAt);
