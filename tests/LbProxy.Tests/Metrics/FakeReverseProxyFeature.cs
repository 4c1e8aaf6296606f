using Yarp.ReverseProxy.Configuration;
using Yarp.ReverseProxy.Forwarder;
using Yarp.ReverseProxy.Model;

namespace LbProxy.Tests.Metrics;

/// <summary>What YARP's pipeline puts on a request it routed, for unit tests of proxy stages.</summary>
internal sealed class FakeReverseProxyFeature : IReverseProxyFeature
{
    public FakeReverseProxyFeature(string routeId, string clusterId)
    {
        Route = new RouteModel(new RouteConfig { RouteId = routeId, ClusterId = clusterId }, cluster: null, HttpTransformer.Default);
        Cluster = new ClusterModel(new ClusterConfig { ClusterId = clusterId }, new HttpMessageInvoker(new SocketsHttpHandler()));
    }

    public RouteModel Route { get; }

    public ClusterModel Cluster { get; set; }

    public IReadOnlyList<DestinationState> AllDestinations { get; } = [];

    public IReadOnlyList<DestinationState> AvailableDestinations { get; set; } = [];

    public DestinationState? ProxiedDestination { get; set; }
}
