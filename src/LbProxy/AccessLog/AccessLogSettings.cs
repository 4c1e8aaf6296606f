using LbProxy.Edge;

namespace LbProxy.AccessLog;

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
