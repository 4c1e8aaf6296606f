using System.Diagnostics.Metrics;
using LbProxy.Metrics;

namespace LbProxy.AccessLog;

/// <summary>
/// Every line's outcome, counted: in the LbProxy meter as <c>lbproxy.accesslog.lines{outcome}</c>, and here
/// for <c>/_lb/status</c>. A skip never goes uncounted, so the filter cannot hide traffic unseen. The instrument
/// is observed from the counts at each collection, so every outcome's series exists from the start at 0: a
/// Prometheus counter that first appears at 1 (the first dropped line) would hide that increase from alerts.
/// </summary>
internal sealed class AccessLogCounters
{
    public const string InstrumentName = "lbproxy.accesslog.lines";

    /// <summary>Tag values by <see cref="AccessLogOutcome"/>: a bounded set.</summary>
    private static readonly string[] OutcomeNames =
        ["written", "dropped", "skipped_path", "skipped_status", "skipped_duration", "skipped_sample", "skipped_disabled"];

    private readonly long[] _counts = new long[OutcomeNames.Length];

    public AccessLogCounters(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(LbProxyMeter.Name);
        meter.CreateObservableCounter(InstrumentName, Observe, "{line}",
            "Access-log lines by outcome: written, dropped (buffer full or a failed write) or skipped by a filter rule");
    }

    public static string NameOf(AccessLogOutcome outcome) => OutcomeNames[(int)outcome];

    public void Add(AccessLogOutcome outcome)
    {
        Interlocked.Increment(ref _counts[(int)outcome]);
    }

    public void Add(AccessLogOutcome outcome, int count)
    {
        Interlocked.Add(ref _counts[(int)outcome], count);
    }

    public long Get(AccessLogOutcome outcome) => Interlocked.Read(ref _counts[(int)outcome]);

    /// <summary>One measurement per outcome, 0 included; runs at collection time (a scrape), not per request.</summary>
    private Measurement<long>[] Observe()
    {
        var measurements = new Measurement<long>[OutcomeNames.Length];
        for (var i = 0; i < measurements.Length; i++)
        {
            measurements[i] = new Measurement<long>(
                Interlocked.Read(ref _counts[i]),
                new KeyValuePair<string, object?>(MetricTags.Outcome, OutcomeNames[i]));
        }

        return measurements;
    }
}

/// <summary>What became of one request's line: written, dropped (buffer full or a failed write), or skipped by which rule.</summary>
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
