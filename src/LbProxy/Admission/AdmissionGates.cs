using System.Runtime.CompilerServices;
using Yarp.ReverseProxy.Model;

namespace LbProxy.Admission;

/// <summary>
/// The gate of each cluster, keyed by YARP's <see cref="ClusterState"/>, which outlives reloads while the cluster's
/// id stays (a reload keeps its queue and counts) and is collected with the cluster when a reload removes it.
/// </summary>
internal sealed class AdmissionGates(TimeProvider time)
{
    private readonly ConditionalWeakTable<ClusterState, AdmissionGate> _gates = new();

    public TimeProvider Time => time;

    public AdmissionGate For(ClusterState cluster) =>
        _gates.TryGetValue(cluster, out var gate) ? gate : Add(cluster);

    private AdmissionGate Add(ClusterState cluster) => _gates.GetValue(cluster, _ => new AdmissionGate(time));

    public AdmissionGate? Peek(ClusterState cluster) => _gates.TryGetValue(cluster, out var gate) ? gate : null;
}
