using System.Diagnostics.Metrics;
using LbProxy.Metrics;

namespace LbProxy.AccessLog;

/// <summary>
/// Every line's outcome, counted: in the LbProxy meter as <c>lbproxy.accesslog.lines{outcome}</c>, and here
/// for <c>/_lb/status</c>. A skip never goes uncounted, so the filter cannot hide traffic unseen.
/// </summary>
internal sealed class AccessLogCounters
{
    public const string InstrumentName = "lbproxy.accesslog.lines";

    /// <summary>Tag values by <see cref="AccessLogOutcome"/>: a bounded set.</summary>
    private static readonly string[] OutcomeNames =
        ["written", "dropped", "skipped_path", "skipped_status", "skipped_duration", "skipped_sample", "skipped_disabled"];

    private readonly long[] _counts = new long[OutcomeNames.Length];
    private readonly Counter<long> _lines;

    public AccessLogCounters(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(LbProxyMeter.Name);
        _lines = meter.CreateCounter<long>(InstrumentName, "{line}",
            "Access-log lines by outcome: written, dropped (buffer full) or skipped by a filter rule");
    }

    public static string NameOf(AccessLogOutcome outcome) => OutcomeNames[(int)outcome];

    public void Add(AccessLogOutcome outcome)
    {
        Interlocked.Increment(ref _counts[(int)outcome]);
        if (_lines.Enabled)
        {
            _lines.Add(1, new KeyValuePair<string, object?>(MetricTags.Outcome, OutcomeNames[(int)outcome]));
        }
    }

    public long Get(AccessLogOutcome outcome) => Interlocked.Read(ref _counts[(int)outcome]);
}

/// <summary>What became of one request's line: written, dropped (buffer full), or skipped by which rule.</summary>
internal enum AccessLogOutcome
{
    Written,
    Dropped,
    SkippedPath,
    SkippedStatus,
    SkippedDuration,
    SkippedSample,
    SkippedDisabled,
}
