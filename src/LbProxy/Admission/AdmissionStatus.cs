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
                var latency = settings.Adaptive && slots?.Adaptive.LongRtt is > 0 and var seconds ? Math.Round(seconds * 1000, 1) : (double?)null;
                destinations.Add(new AdmissionDestinationStatus(id, slots?.InFlight ?? 0, slots?.LimitFor(settings) ?? settings.MaxPerDestination, latency));
            }

            clusters.Add(new AdmissionClusterStatus(cluster.ClusterId, settings.MaxPerDestination, settings.MaxQueue,
                settings.QueueTimeout.TotalSeconds, settings.Adaptive, settings.DegradeFormats, gates.Peek(cluster)?.QueueLength ?? 0, destinations));
        }

        return clusters;
    }
}

/// <summary>
/// One destination: requests holding its slots, its limit now (fixed, or adaptive under the ceiling), and on an
/// adaptive cluster the latency the limit takes as the origin's usual (its long-term time to response headers, in
/// ms; null until learned).
/// </summary>
internal sealed record AdmissionDestinationStatus(string Id, int InFlight, int Limit, double? LatencyMs);

/// <summary>Source-generated JSON of this stage's status section (camelCase; the writer's conventions are Control's).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(IReadOnlyList<AdmissionClusterStatus>))]
internal sealed partial class AdmissionJsonContext : JsonSerializerContext;
