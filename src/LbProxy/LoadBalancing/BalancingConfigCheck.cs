using LbProxy.Configuration;
using LbProxy.Health;

namespace LbProxy.LoadBalancing;

/// <summary>Refuses balancing metadata that would silently mean something else: a bad weight, key or ejection setting.</summary>
internal sealed class BalancingConfigCheck : IConfigCheck
{
    public void Check(ConfigCandidate candidate, List<ConfigError> errors)
    {
        foreach (var cluster in candidate.Clusters)
        {
            var key = $"ReverseProxy:Clusters:{cluster.ClusterId}";
            if (cluster.Metadata?.TryGetValue(HashKeySpec.MetadataKey, out var spec) == true && HashKeySpec.Parse(spec) is null)
            {
                errors.Add(candidate.File.ErrorAt($"{key}:Metadata:{HashKeySpec.MetadataKey}",
                    $"'{spec}' is not a hash key: use path, path-query or header:NAME"));
            }

            if (OutlierEjectionSettings.Parse(cluster.Metadata).Error is { } ejectionError)
            {
                errors.Add(candidate.File.ErrorAt($"{key}:Metadata", ejectionError));
            }

            foreach (var (id, destination) in cluster.Destinations ?? new Dictionary<string, Yarp.ReverseProxy.Configuration.DestinationConfig>())
            {
                if (destination.Metadata?.TryGetValue(DestinationWeight.MetadataKey, out var weight) == true && DestinationWeight.Parse(weight) is null)
                {
                    errors.Add(candidate.File.ErrorAt($"{key}:Destinations:{id}:Metadata:{DestinationWeight.MetadataKey}",
                        $"weight '{weight}' of destination '{id}' must be a number of at least 0"));
                }
            }
        }
    }
}
