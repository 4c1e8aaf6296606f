using System.Diagnostics.Metrics;
using System.Reflection;

namespace LbProxy.Metrics;

/// <summary>
/// <c>lbproxy_build_info{version,commit}</c>, always 1: which build a pod runs, so that a rule can group any series by
/// build (a canary's CPU per request against the stable pods', deploy/prometheus/rules/canary.rules.yml). Read once
/// from the assembly's informational version, which the SDK writes as <c>version+commit</c> when built from git.
/// </summary>
internal sealed class BuildInfo
{
    public const string Name = "lbproxy.build.info";

    public BuildInfo(IMeterFactory meterFactory)
    {
        var informational = typeof(BuildInfo).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0";
        var plus = informational.IndexOf('+', StringComparison.Ordinal);
        Version = plus >= 0 ? informational[..plus] : informational;
        Commit = plus >= 0 && plus + 1 < informational.Length ? informational[(plus + 1)..] : "unknown";
        KeyValuePair<string, object?>[] tags = [new(MetricTags.Version, Version), new(MetricTags.Commit, Commit)];
        meterFactory.Create(LbProxyMeter.Name).CreateObservableGauge(Name, () => new Measurement<int>(1, tags), unit: null,
            description: "Always 1; the labels name the build this process runs (version, and the git commit it was built from, or unknown).");
    }

    public string Version { get; }

    public string Commit { get; }
}
