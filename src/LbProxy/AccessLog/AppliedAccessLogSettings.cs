using LbProxy.Edge;
using Microsoft.Extensions.Options;

namespace LbProxy.AccessLog;

/// <summary>
/// The access log's settings as applied: holds the current <see cref="AccessLogSettings"/> and replaces it whole when
/// the options change. The new template and filter are compiled on the thread that reports the change, off the
/// request path, and swapped in by one reference write. A change that cannot be compiled keeps the last good settings.
/// It decides nothing about a request (<see cref="AccessLogSettings.Filter"/> does).
/// </summary>
internal sealed partial class AppliedAccessLogSettings : IDisposable
{
    private readonly string _controlPrefix;
    private readonly ILogger<AppliedAccessLogSettings> _logger;
    private readonly IDisposable? _subscription;
    private AccessLogSettings _current;

    public AppliedAccessLogSettings(IOptionsMonitor<AccessLogOptions> options, ControlPrefix controlPrefix, ILogger<AppliedAccessLogSettings> logger)
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
