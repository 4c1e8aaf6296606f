namespace LbProxy.Diagnostics;

internal sealed partial class LeakWatchdog
{
    [LoggerMessage(EventId = LogEvents.LeakSuspected, Level = LogLevel.Warning,
        Message = "Suspected leak of {Resource}: {Current:0} now against a baseline of {Baseline:0}; +{Rise:0} over the last {WindowSeconds:0} s and {Requests} requests ({SlopePer1000Requests:0.0} per 1,000 requests, t={T:0}), not explained by in-flight requests (peak {InFlightPeak:0}) or {Reloads} reloads. See the live page, /ui under the control prefix.")]
    private static partial void LogSuspectedByRequests(ILogger logger, string resource, double current, double baseline, double rise, double windowSeconds,
        long requests, double slopePer1000Requests, double t, double inFlightPeak, long reloads);

    [LoggerMessage(EventId = LogEvents.LeakSuspected, Level = LogLevel.Warning,
        Message = "Suspected leak of {Resource}: {Current:0} now against a baseline of {Baseline:0}; +{Rise:0} over the last {WindowSeconds:0} s at low traffic ({SlopePerMinute:0.0} per minute, t={T:0}). See the live page, /ui under the control prefix.")]
    private static partial void LogSuspectedByTime(ILogger logger, string resource, double current, double baseline, double rise, double windowSeconds,
        double slopePerMinute, double t);

    [LoggerMessage(EventId = LogEvents.LeakSuspected, Level = LogLevel.Warning,
        Message = "Suspected leak of {Resource}: {Current:0} now, not back to the idle level {IdleReference:0} after {IdleSeconds:0} s without traffic. See the live page, /ui under the control prefix.")]
    private static partial void LogSuspectedIdle(ILogger logger, string resource, double current, double idleReference, double idleSeconds);

    [LoggerMessage(EventId = LogEvents.LeakCleared, Level = LogLevel.Information,
        Message = "Leak suspicion of {Resource} cleared: {Current:0} is back near its baseline of {Baseline:0}")]
    private static partial void LogCleared(ILogger logger, string resource, double current, double baseline);

    private void LogSuspected(string resource, LeakFigures figures)
    {
        switch (figures.Criterion)
        {
            case LeakCriterion.Requests:
                LogSuspectedByRequests(_logger, resource, figures.Current, figures.Baseline, figures.Rise, figures.WindowSeconds, figures.Requests,
                    figures.Slope, figures.T, figures.InFlightPeak, figures.Reloads);
                break;
            case LeakCriterion.Time:
                LogSuspectedByTime(_logger, resource, figures.Current, figures.Baseline, figures.Rise, figures.WindowSeconds, figures.Slope, figures.T);
                break;
            default:
                LogSuspectedIdle(_logger, resource, figures.Current, figures.Baseline, figures.WindowSeconds);
                break;
        }
    }
}
