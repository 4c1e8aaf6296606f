namespace LbProxy.AccessLog;

/// <summary>Reads the access log's state for the control plane, which reaches this stage only through here.</summary>
internal sealed class AccessLogReport(AppliedAccessLogSettings applied, AccessLogCounters counters, AccessLogWriter writer)
{
    public AccessLogStatus Capture()
    {
        var settings = applied.Current;
        var skipped = new Dictionary<string, long>();
        foreach (var outcome in Enum.GetValues<AccessLogOutcome>())
        {
            if (outcome is not (AccessLogOutcome.Written or AccessLogOutcome.Dropped))
            {
                // "skipped_path" shows as "path".
                skipped[AccessLogCounters.NameOf(outcome)["skipped_".Length..]] = counters.Get(outcome);
            }
        }

        return new AccessLogStatus(
            settings.Enabled,
            settings.Template.Text,
            settings.Filter.SkipPrefixes,
            counters.Get(AccessLogOutcome.Written),
            counters.Get(AccessLogOutcome.Dropped),
            writer.Pending,
            writer.WriteFailure,
            skipped);
    }
}

/// <summary>
/// The access log as <c>/_lb/status</c> shows it: lines written, dropped (buffer full or a failed write), waiting,
/// why writes fail now (null when they do not), and skipped by rule.
/// </summary>
internal sealed record AccessLogStatus(
    bool Enabled,
    string Template,
    IReadOnlyList<string> SkippedPrefixes,
    long Written,
    long Dropped,
    int Pending,
    string? WriteFailure,
    IReadOnlyDictionary<string, long> Skipped);
