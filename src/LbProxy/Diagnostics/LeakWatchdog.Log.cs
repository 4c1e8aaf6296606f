namespace LbProxy.Diagnostics;

internal sealed partial class LeakWatchdog
{
    [LoggerMessage(EventId = LogEvents.LeakSuspected, Level = LogLevel.Warning,
        Message = "Suspected leak of {Resource}: {Current:0} now against a baseline of {Baseline:0}; +{Rise:0} over the last {WindowSeconds:0} s and {Requests} requests ({SlopePer1000Requests:0.0} per 1,000 requests, t={T:0}), not explained by in-flight requests (peak {InFlightPeak:0}) or {Reloads} reloads.{Culprits} See the live page, /ui under the control prefix.")]
    private static partial void LogSuspectedByRequests(ILogger logger, string resource, double current, double baseline, double rise, double windowSeconds,
        long requests, double slopePer1000Requests, double t, double inFlightPeak, long reloads, string culprits);

    [LoggerMessage(EventId = LogEvents.LeakSuspected, Level = LogLevel.Warning,
        Message = "Suspected leak of {Resource}: {Current:0} now against a baseline of {Baseline:0}; +{Rise:0} over the last {WindowSeconds:0} s at low traffic ({SlopePerMinute:0.0} per minute, t={T:0}).{Culprits} See the live page, /ui under the control prefix.")]
    private static partial void LogSuspectedByTime(ILogger logger, string resource, double current, double baseline, double rise, double windowSeconds,
        double slopePerMinute, double t, string culprits);

    [LoggerMessage(EventId = LogEvents.LeakSuspected, Level = LogLevel.Warning,
        Message = "Suspected leak of {Resource}: {Current:0} now, not back to the idle level {IdleReference:0} after {IdleSeconds:0} s without traffic.{Culprits} See the live page, /ui under the control prefix.")]
    private static partial void LogSuspectedIdle(ILogger logger, string resource, double current, double idleReference, double idleSeconds, string culprits);

    [LoggerMessage(EventId = LogEvents.LeakCleared, Level = LogLevel.Information,
        Message = "Leak suspicion of {Resource} cleared: {Current:0} is back near its baseline of {Baseline:0}")]
    private static partial void LogCleared(ILogger logger, string resource, double current, double baseline);

    [LoggerMessage(EventId = LogEvents.LeakWindowFitted, Level = LogLevel.Information,
        Message = "Fit {Resource} at {Now:0.0} s: count {Count:0}, window from {From:0.0} s ({Samples} samples, {Requests} requests): slope {Slope:0.0} per 1,000 requests, t={T:0.0}, rise {Rise:0} against threshold {Threshold:0} (baseline {Baseline:0}); recent half slope {RecentSlope:0.0}, t={RecentT:0.0}; early {Early}, steep {Steep}, met {Met}")]
    private static partial void LogWindowFitted(ILogger logger, string resource, double now, double count, double from, int samples, long requests,
        double slope, double t, double rise, double threshold, double baseline, double recentSlope, double recentT, bool early, bool steep, bool met);

    /// <summary>" Grew since start-up: Owner +N (M now), ..." or nothing; the owners the census names.</summary>
    internal static string CulpritText(IReadOnlyList<CensusGrowth>? culprits)
    {
        if (culprits is null || culprits.Count == 0)
        {
            return string.Empty;
        }

        var text = new System.Text.StringBuilder(" Grew since the baseline census: ");
        for (var index = 0; index < culprits.Count; index++)
        {
            var culprit = culprits[index];
            text.Append(index == 0 ? string.Empty : "; ").Append(culprit.Owner).Append(System.Globalization.CultureInfo.InvariantCulture, $" +{culprit.Growth:N0} ({culprit.Count:N0} now)");
        }

        return text.Append('.').ToString();
    }

    private void LogSuspected(string resource, LeakFigures figures, IReadOnlyList<CensusGrowth>? culprits)
    {
        var named = CulpritText(culprits);
        switch (figures.Criterion)
        {
            case LeakCriterion.Requests:
                LogSuspectedByRequests(_logger, resource, figures.Current, figures.Baseline, figures.Rise, figures.WindowSeconds, figures.Requests,
                    figures.Slope, figures.T, figures.InFlightPeak, figures.Reloads, named);
                break;
            case LeakCriterion.Time:
                LogSuspectedByTime(_logger, resource, figures.Current, figures.Baseline, figures.Rise, figures.WindowSeconds, figures.Slope, figures.T, named);
                break;
            default:
                LogSuspectedIdle(_logger, resource, figures.Current, figures.Baseline, figures.WindowSeconds, named);
                break;
        }
    }
}
