using LbProxy.Configuration;

namespace LbProxy.Admission;

/// <summary>
/// Refuses concurrency metadata that would silently mean something else (a bad number, an unknown
/// <c>Concurrency.*</c> key, a queue setting without a limit) and a bad route <c>Priority</c>, each at its place.
/// </summary>
internal sealed class AdmissionConfigCheck : IConfigCheck
{
    public void Check(ConfigCandidate candidate, List<ConfigError> errors)
    {
        foreach (var cluster in candidate.Clusters)
        {
            if (AdmissionSettings.Parse(cluster.Metadata) is { Error: { } error, ErrorKey: var key })
            {
                errors.Add(candidate.File.ErrorAt($"{ConfigKeys.Cluster(cluster.ClusterId)}:Metadata:{key}", error));
            }
        }

        foreach (var route in candidate.Routes)
        {
            if (RoutePriority.Parse(route.Metadata).Error is { } error)
            {
                errors.Add(candidate.File.ErrorAt($"{ConfigKeys.Route(route.RouteId)}:Metadata:{RoutePriority.MetadataKey}", error));
            }
        }
    }
}
