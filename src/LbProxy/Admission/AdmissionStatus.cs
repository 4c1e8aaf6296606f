using System.Text.Json.Serialization;
using Yarp.ReverseProxy;

namespace LbProxy.Admission;

/// <summary>One cluster with limits in <c>/_lb/status</c>'s <c>admission</c> section: its settings, queue and destinations.</summary>
internal sealed record AdmissionClusterStatus(
    string Id,
    int MaxPerDestination,
    int MaxQueue,
    double QueueTimeoutSeconds,
    bool Adaptive,
    bool DegradeFormats,
    int QueueLength,
    IReadOnlyList<AdmissionDestinationStatus> Destinations)
{
    /// <summary>Every cluster that has <c>Concurrency.MaxPerDestination</c>, by id.</summary>
    public static IReadOnlyList<AdmissionClusterStatus> Capture(IProxyStateLookup proxyState, AdmissionGates gates)
    {
        var clusters = new List<AdmissionClusterStatus>();
        foreach (var cluster in proxyState.GetClusters().OrderBy(static c => c.ClusterId, StringComparer.Ordinal))
        {
            if (cluster.Model is not { } model || AdmissionSettings.Of(model) is not { } settings)
            {
                continue;
            }

            var destinations = new List<AdmissionDestinationStatus>();
            foreach (var (id, destination) in cluster.Destinations.OrderBy(static d => d.Key, StringComparer.Ordinal))
            {
                var slots = AdmissionGate.PeekSlots(destination);
                destinations.Add(new AdmissionDestinationStatus(id, slots?.InFlight ?? 0, slots?.LimitFor(settings) ?? settings.MaxPerDestination));
            }

            clusters.Add(new AdmissionClusterStatus(cluster.ClusterId, settings.MaxPerDestination, settings.MaxQueue,
                settings.QueueTimeout.TotalSeconds, settings.Adaptive, settings.DegradeFormats, gates.Peek(cluster)?.QueueLength ?? 0, destinations));
        }

        return clusters;
    }
}

/// <summary>One destination: requests holding its slots, and its limit now (fixed, or adaptive under the ceiling).</summary>
internal sealed record AdmissionDestinationStatus(string Id, int InFlight, int Limit);

/// <summary>Source-generated JSON of this stage's status section (camelCase; the writer's conventions are Control's).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(IReadOnlyList<AdmissionClusterStatus>))]
internal sealed partial class AdmissionJsonContext : JsonSerializerContext;
