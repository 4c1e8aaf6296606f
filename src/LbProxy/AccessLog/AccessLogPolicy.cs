using LbProxy.Edge;
using Microsoft.Extensions.Options;

namespace LbProxy.AccessLog;

/// <summary>
/// Holds the current <see cref="AccessLogSettings"/> and replaces it whole when the options change: the new
/// template and filter are compiled on the thread that reports the change, off the request path, and
/// swapped in by one reference write. A change that cannot be compiled keeps the last good settings.
/// </summary>
internal sealed partial class AccessLogPolicy : IDisposable
{
    private readonly string _controlPrefix;
    private readonly ILogger<AccessLogPolicy> _logger;
    private readonly IDisposable? _subscription;
    private AccessLogSettings _current;

    public AccessLogPolicy(IOptionsMonitor<AccessLogOptions> options, ControlPrefix controlPrefix, ILogger<AccessLogPolicy> logger)
    {
        // The control prefix the control-plane split answers under, read once at start: the two agree.
        _controlPrefix = controlPrefix.Value;
        _logger = logger;
        _current = AccessLogSettings.From(options.CurrentValue, _controlPrefix);
        _subscription = options.OnChange(OnOptionsChanged);
    }

    public AccessLogSettings Current => Volatile.Read(ref _current);

    public void Dispose() => _subscription?.Dispose();

    private void OnOptionsChanged(AccessLogOptions options, string? name)
    {
        if (!string.IsNullOrEmpty(name))
        {
            return; // named instances are not the access log's
        }

        try
        {
            var next = AccessLogSettings.From(options, _controlPrefix);
            Volatile.Write(ref _current, next);
            LogApplied(_logger, next.Enabled, next.Template.Text, next.Filter.SkipPrefixes);
        }
        catch (Exception e) when (e is FormatException or ArgumentException)
        {
            LogRejected(_logger, e);
        }
    }

    [LoggerMessage(EventId = LogEvents.AccessLogSettingsApplied, Level = LogLevel.Information,
        Message = "Access log settings applied: enabled {Enabled}, template {Template}, skipped prefixes {Prefixes}")]
    private static partial void LogApplied(ILogger logger, bool enabled, string template, IReadOnlyList<string> prefixes);

    [LoggerMessage(EventId = LogEvents.AccessLogSettingsRejected, Level = LogLevel.Error, Message = "Access log settings rejected; the last good ones stay")]
    private static partial void LogRejected(ILogger logger, Exception exception);
}

/// <summary>
/// One immutable generation of the access-log options, compiled: the template and the filter. Requests read
/// it once, at their start, so a change of options never mixes two generations in one line.
/// </summary>
internal sealed record AccessLogSettings(bool Enabled, AccessLogTemplate Template, AccessLogFilter Filter, bool Utc)
{
    /// <summary>Compiles validated options; <paramref name="controlPrefix"/> is skipped when the options say so.</summary>
    public static AccessLogSettings From(AccessLogOptions options, string controlPrefix)
    {
        var prefixes = new List<string>();
        if (options.SkipControlPaths)
        {
            prefixes.Add(controlPrefix);
        }

        if (options.SkipMetrics)
        {
            prefixes.Add(WellKnownPaths.Metrics);
        }

        prefixes.AddRange(options.SkipPaths);
        var statusClasses = new List<int>();
        foreach (var statusClass in options.SkipStatusClasses)
        {
            statusClasses.Add(AccessLogOptions.ParseStatusClass(statusClass)
                ?? throw new FormatException($"bad status class '{statusClass}'"));
        }

        return new AccessLogSettings(
            options.Enabled,
            AccessLogTemplate.Parse(options.Template),
            new AccessLogFilter(prefixes, statusClasses, options.MinDuration, options.SuccessSamplePercent),
            options.Utc);
    }
}
