using System.Diagnostics.Metrics;
using LbProxy.Configuration;

namespace LbProxy.Metrics;

/// <summary>
/// The applied config and the outcome of its reloads, read at scrape time from <see cref="ConfigState"/>, which
/// the config loader updates. Counting happens there; these instruments only show it.
/// </summary>
internal sealed class ConfigMetrics
{
    public const string GenerationName = "lbproxy.config.generation";
    public const string ReloadsName = "lbproxy.config.reloads";
    public const string LastReloadSuccessName = "lbproxy.config.last_reload_success";

    private static readonly KeyValuePair<string, object?>[] AppliedTags = [new(MetricTags.Result, "applied")];
    private static readonly KeyValuePair<string, object?>[] RejectedTags = [new(MetricTags.Result, "rejected")];
    private static readonly KeyValuePair<string, object?>[] UnchangedTags = [new(MetricTags.Result, "unchanged")];

    public ConfigMetrics(IMeterFactory meterFactory, ConfigState state)
    {
        var meter = meterFactory.Create(LbProxyMeter.Name);
        meter.CreateObservableGauge(
            GenerationName,
            () => state.Current.Generation,
            unit: null,
            description: "Generation of the applied config: 1 at start, one more for each applied reload.");
        meter.CreateObservableCounter(
            ReloadsName,
            () => Reloads(state.Current),
            unit: "{reload}",
            description: "Config reloads by result: applied, rejected (the last good config kept serving) or unchanged.");
        meter.CreateObservableGauge(
            LastReloadSuccessName,
            () => state.Current.LastReloadSucceeded ? 1 : 0,
            unit: null,
            description: "1 when the last reload was applied (or none was tried yet), 0 when it was rejected.");
    }

    private static Measurement<long>[] Reloads(ConfigStatus status) =>
    [
        new(status.ReloadsApplied, AppliedTags),
        new(status.ReloadsRejected, RejectedTags),
        new(status.ReloadsUnchanged, UnchangedTags),
    ];
}
