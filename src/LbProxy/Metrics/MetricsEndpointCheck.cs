using LbProxy.Configuration;

namespace LbProxy.Metrics;

/// <summary>
/// <see cref="MetricsOptions.Endpoint"/> names a <c>Kestrel:Endpoints</c> entry: a misspelt name would otherwise make
/// <c>/metrics</c> a 404 everywhere, and every scrape fail.
/// </summary>
internal sealed class MetricsEndpointCheck : IConfigCheck
{
    private const string Key = MetricsOptions.SectionName + ":" + nameof(MetricsOptions.Endpoint);

    public void Check(ConfigCandidate candidate, List<ConfigError> errors)
    {
        var name = candidate.Effective[Key];
        if (string.IsNullOrEmpty(name))
        {
            return;
        }

        var endpoints = candidate.Effective.GetSection("Kestrel:Endpoints").GetChildren().Select(static e => e.Key).ToList();
        if (!endpoints.Contains(name, StringComparer.OrdinalIgnoreCase))
        {
            errors.Add(candidate.File.ErrorAt(Key, $"endpoint '{name}' is not among Kestrel:Endpoints ({string.Join(", ", endpoints)})"));
        }
    }
}
