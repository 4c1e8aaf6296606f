using Yarp.ReverseProxy.Configuration;
using Yarp.ReverseProxy.Forwarder;
using Yarp.ReverseProxy.Model;

namespace LbProxy.Tests.Infrastructure;

/// <summary>What YARP's pipeline puts on a request it routed, for unit tests of proxy stages.</summary>
internal sealed class FakeReverseProxyFeature : IReverseProxyFeature
{
    // Never sends: the stages under test only read the cluster model.
    private static readonly HttpMessageInvoker NoClient = new(new SocketsHttpHandler());

    public FakeReverseProxyFeature(string routeId, string clusterId)
        : this(routeId, new ClusterConfig { ClusterId = clusterId })
    {
    }

    /// <summary>A request routed to <paramref name="cluster"/>, whose destinations are all available.</summary>
    public FakeReverseProxyFeature(string routeId, ClusterConfig cluster, params DestinationState[] destinations)
    {
        Cluster = new ClusterModel(cluster, NoClient);
        ClusterState = new ClusterState(cluster.ClusterId, Cluster);
        foreach (var destination in destinations)
        {
            ClusterState.Destinations[destination.DestinationId] = destination;
        }

        ClusterState.DestinationsState = new ClusterDestinationsState(destinations, destinations);
        Route = new RouteModel(new RouteConfig { RouteId = routeId, ClusterId = cluster.ClusterId }, ClusterState, HttpTransformer.Default);
        AllDestinations = destinations;
        AvailableDestinations = destinations;
    }

    private FakeReverseProxyFeature(FakeReverseProxyFeature earlier)
    {
        Route = earlier.Route;
        ClusterState = earlier.ClusterState;
        Cluster = earlier.Cluster;
        AllDestinations = earlier.AllDestinations;
        AvailableDestinations = earlier.AllDestinations;
    }

    public RouteModel Route { get; }

    /// <summary>The cluster's runtime state, as <c>Route.Cluster</c> holds it.</summary>
    public ClusterState ClusterState { get; }

    public ClusterModel Cluster { get; set; }

    public IReadOnlyList<DestinationState> AllDestinations { get; }

    public IReadOnlyList<DestinationState> AvailableDestinations { get; set; }

    public DestinationState? ProxiedDestination { get; set; }

    /// <summary>Another request to the same route: route, cluster and destinations shared, nothing chosen yet.</summary>
    public FakeReverseProxyFeature NextRequest() => new(this);
}
