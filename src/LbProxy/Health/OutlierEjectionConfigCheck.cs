using LbProxy.Configuration;

namespace LbProxy.Health;

/// <summary>Refuses outlier-ejection metadata that would silently mean something else.</summary>
internal sealed class OutlierEjectionConfigCheck : IConfigCheck
{
    public void Check(ConfigCandidate candidate, List<ConfigError> errors)
    {
        foreach (var cluster in candidate.Clusters)
        {
            if (OutlierEjectionSettings.Parse(cluster.Metadata).Error is { } error)
            {
                errors.Add(candidate.File.ErrorAt($"{ConfigKeys.Cluster(cluster.ClusterId)}:Metadata", error));
            }
        }
    }
}
