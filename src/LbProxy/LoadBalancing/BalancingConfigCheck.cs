using LbProxy.Configuration;
using Yarp.ReverseProxy.Configuration;

namespace LbProxy.LoadBalancing;

/// <summary>Refuses balancing metadata that would silently mean something else: a bad weight or hash key.</summary>
internal sealed class BalancingConfigCheck : IConfigCheck
{
    public void Check(ConfigCandidate candidate, List<ConfigError> errors)
    {
        foreach (var cluster in candidate.Clusters)
        {
            var key = ConfigKeys.Cluster(cluster.ClusterId);
            if (cluster.Metadata?.TryGetValue(HashKeySpec.MetadataKey, out var spec) == true && HashKeySpec.Parse(spec) is null)
            {
                errors.Add(candidate.File.ErrorAt($"{key}:Metadata:{HashKeySpec.MetadataKey}",
                    $"'{spec}' is not a hash key: use path, path-query or header:NAME"));
            }

            foreach (var (id, destination) in cluster.Destinations ?? new Dictionary<string, DestinationConfig>())
            {
                if (destination.Metadata?.TryGetValue(DestinationWeight.MetadataKey, out var weight) == true && DestinationWeight.Parse(weight) is null)
                {
                    errors.Add(candidate.File.ErrorAt($"{ConfigKeys.Destination(cluster.ClusterId, id)}:Metadata:{DestinationWeight.MetadataKey}",
                        $"weight '{weight}' of destination '{id}' must be a number of at least 0"));
                }
            }
        }
    }
}
