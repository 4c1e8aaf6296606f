using System.Diagnostics.Metrics;
using System.Runtime.CompilerServices;
using LbProxy.Forwarding;
using LbProxy.Metrics;
using Microsoft.Extensions.Options;
using Yarp.ReverseProxy;
using Yarp.ReverseProxy.Model;

namespace LbProxy.Admission;

/// <summary>
/// The <see cref="FairShareGate"/> of each cluster (made at its first proxied request, gone with the cluster), and what
/// they hold, read at scrape time: <c>lbproxy_cluster_capacity_in_flight</c>, <c>lbproxy_cluster_capacity_waiting</c>
/// and <c>lbproxy_cluster_capacity_limit</c> by cluster, while the cap is on. An operator who sees
/// <c>cluster_capacity</c> in the shed counts sees here whether the cap is full and how many wait for a turn.
/// </summary>
internal sealed class ClusterCapacityGates
{
    public const string InFlightName = "lbproxy.cluster_capacity.in_flight";
    public const string WaitingName = "lbproxy.cluster_capacity.waiting";
    public const string LimitName = "lbproxy.cluster_capacity.limit";

    private readonly ConditionalWeakTable<ClusterState, FairShareGate> _gates = new();
    private readonly IProxyStateLookup _proxyState;
    private readonly IOptionsMonitor<ForwardingOptions> _options;

    public ClusterCapacityGates(IMeterFactory meterFactory, IProxyStateLookup proxyState, IOptionsMonitor<ForwardingOptions> options)
    {
        _proxyState = proxyState;
        _options = options;
        var meter = meterFactory.Create(LbProxyMeter.Name);
        meter.CreateObservableGauge(InFlightName, () => Observe(static (gate, _) => gate?.InFlight ?? 0), unit: "{request}",
            description: "Proxied requests of a cluster holding a slot of the edge's cap (LbProxy:Forwarding:MaxRequestsPerDestination).");
        meter.CreateObservableGauge(WaitingName, () => Observe(static (gate, _) => gate?.Waiting ?? 0), unit: "{request}",
            description: "Proxied requests of a cluster waiting for a slot of the edge's cap.");
        meter.CreateObservableGauge(LimitName, () => Observe(static (_, capacity) => capacity), unit: "{request}",
            description: "The edge's cap on a cluster's proxied requests in flight now: MaxRequestsPerDestination for each available destination.");
    }

    public FairShareGate For(ClusterState cluster) =>
        _gates.TryGetValue(cluster, out var gate) ? gate : _gates.GetValue(cluster, static _ => new FairShareGate());

    /// <summary>The cap in force now for a cluster with <paramref name="destinations"/> available (0: off).</summary>
    public int CapacityFor(int destinations) => Capacity(_options.CurrentValue, destinations);

    /// <summary>
    /// The cap in force for a cluster with <paramref name="destinations"/> available: <see cref="ForwardingOptions.MaxRequestsPerDestination"/>
    /// each, and at most one below a destination's connection cap each; 0 when off.
    /// </summary>
    internal static int Capacity(ForwardingOptions forwarding, int destinations)
    {
        var each = forwarding.MaxRequestsPerDestination;
        if (each <= 0)
        {
            return 0;
        }

        if (forwarding.MaxConnectionsPerDestination > 1)
        {
            each = Math.Min(each, forwarding.MaxConnectionsPerDestination - 1);
        }

        return (int)Math.Min(int.MaxValue, (long)each * Math.Max(1, destinations));
    }

    private List<Measurement<int>> Observe(Func<FairShareGate?, int, int> read)
    {
        var measurements = new List<Measurement<int>>();
        foreach (var cluster in _proxyState.GetClusters())
        {
            var capacity = CapacityFor(cluster.DestinationsState.AvailableDestinations.Count);
            if (capacity > 0)
            {
                measurements.Add(new Measurement<int>(read(_gates.TryGetValue(cluster, out var gate) ? gate : null, capacity),
                    new KeyValuePair<string, object?>(MetricTags.Cluster, cluster.ClusterId)));
            }
        }

        return measurements;
    }
}
