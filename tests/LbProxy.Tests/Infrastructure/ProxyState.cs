using Yarp.ReverseProxy;
using Yarp.ReverseProxy.Model;

namespace LbProxy.Tests.Infrastructure;

/// <summary>What a test proxy's YARP knows of its destinations.</summary>
internal static class ProxyState
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(20);

    public static DestinationState Destination(TestProxy proxy, string destinationId, string clusterId = "images")
    {
        Assert.True(proxy.Services.GetRequiredService<IProxyStateLookup>().TryGetCluster(clusterId, out var cluster), $"no cluster {clusterId}");
        return cluster.Destinations[destinationId];
    }

    /// <summary>
    /// Waits until active health gives the destination <paramref name="expected"/> and the cluster's available
    /// destinations follow: YARP sets the first and recomputes the second after, so the next request could
    /// otherwise still be balanced on the old list.
    /// </summary>
    public static Task WaitForActiveHealthAsync(TestProxy proxy, string destinationId, DestinationHealth expected, string clusterId = "images")
    {
        var lookup = proxy.Services.GetRequiredService<IProxyStateLookup>();
        return Poll.UntilAsync(
            () => lookup.TryGetCluster(clusterId, out var cluster)
                && cluster.Destinations.TryGetValue(destinationId, out var destination)
                && destination.Health.Active == expected
                && cluster.DestinationsState.AvailableDestinations.Contains(destination) == (expected == DestinationHealth.Healthy),
            Bound,
            $"{destinationId} becoming {expected}",
            () => Describe(lookup, clusterId, destinationId));
    }

    private static string Describe(IProxyStateLookup lookup, string clusterId, string destinationId)
    {
        if (!lookup.TryGetCluster(clusterId, out var cluster) || !cluster.Destinations.TryGetValue(destinationId, out var destination))
        {
            return $"no destination {destinationId} in cluster {clusterId}";
        }

        var available = cluster.DestinationsState.AvailableDestinations.Contains(destination) ? "available" : "not available";
        return $"active health {destination.Health.Active}, {available}";
    }
}
