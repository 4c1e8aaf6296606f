using System.Text.Json.Serialization;
using LbProxy.Metrics;
using Yarp.ReverseProxy;

namespace LbProxy.Health;

/// <summary>One cluster in <c>/_lb/status</c>: its destinations and the requests in flight to it.</summary>
internal sealed record ClusterStatus(string Id, int InFlight, IReadOnlyList<DestinationStatus> Destinations)
{
    /// <summary>Every cluster as YARP holds it now, by id, with each destination's health and traffic.</summary>
    public static IReadOnlyList<ClusterStatus> Capture(IProxyStateLookup proxyState, LiveTraffic traffic)
    {
        var clusters = new List<ClusterStatus>();
        foreach (var cluster in proxyState.GetClusters().OrderBy(static c => c.ClusterId, StringComparer.Ordinal))
        {
            var available = cluster.DestinationsState?.AvailableDestinations;
            var destinations = new List<DestinationStatus>();
            var inFlight = 0;
            foreach (var (id, destination) in cluster.Destinations.OrderBy(static d => d.Key, StringComparer.Ordinal))
            {
                destinations.Add(new DestinationStatus(
                    id,
                    destination.Model?.Config.Address ?? "",
                    available?.Contains(destination) ?? false,
                    destination.Health.Active.ToString(),
                    destination.Health.Passive.ToString(),
                    destination.ConcurrentRequestCount,
                    traffic.CompletedBy(destination)));
                inFlight += destination.ConcurrentRequestCount;
            }

            clusters.Add(new ClusterStatus(cluster.ClusterId, inFlight, destinations));
        }

        return clusters;
    }
}

/// <summary>
/// One destination in <c>/_lb/status</c>: address, health as the active and passive checks see it, requests in
/// flight, and proxied requests it completed since start.
/// </summary>
internal sealed record DestinationStatus(string Id, string Address, bool Available, string ActiveHealth, string PassiveHealth, int InFlight, long Requests);

/// <summary>Source-generated JSON of this stage's status section (camelCase; the writer's conventions are Control's).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(IReadOnlyList<ClusterStatus>))]
internal sealed partial class HealthJsonContext : JsonSerializerContext;
