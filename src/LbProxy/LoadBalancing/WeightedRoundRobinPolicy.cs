using System.Runtime.CompilerServices;
using Yarp.ReverseProxy.LoadBalancing;
using Yarp.ReverseProxy.Model;

namespace LbProxy.LoadBalancing;

/// <summary>
/// Smooth weighted round robin (the algorithm nginx uses): each pick adds every destination's weight to its
/// running score, takes the highest, and subtracts the total from the winner. Weights 5:1:1 give
/// a a b a c a a rather than a a a a a b c, so no origin sees bursts. Weights from <c>Weight</c> metadata.
/// </summary>
internal sealed class WeightedRoundRobinPolicy : ILoadBalancingPolicy
{
    public const string PolicyName = "WeightedRoundRobin";

    // Keyed by the cluster state, which survives reloads: a reload does not restart the rotation.
    private readonly ConditionalWeakTable<ClusterState, Rotation> _rotations = new();

    public string Name => PolicyName;

    public DestinationState? PickDestination(HttpContext context, ClusterState cluster, IReadOnlyList<DestinationState> availableDestinations)
    {
        if (availableDestinations.Count <= 1)
        {
            return availableDestinations.Count == 1 && DestinationWeight.Of(availableDestinations[0]).Weight > 0 ? availableDestinations[0] : null;
        }

        return _rotations.GetValue(cluster, static _ => new Rotation()).Pick(availableDestinations, cluster.Destinations.Count);
    }

    private sealed class Rotation
    {
        private readonly Lock _lock = new();
        private readonly Dictionary<string, double> _current = new(StringComparer.OrdinalIgnoreCase);

        public DestinationState? Pick(IReadOnlyList<DestinationState> destinations, int configured)
        {
            lock (_lock)
            {
                DestinationState? best = null;
                var bestScore = double.NegativeInfinity;
                var total = 0.0;
                for (var i = 0; i < destinations.Count; i++)
                {
                    var destination = destinations[i];
                    var weight = DestinationWeight.Of(destination).Weight;
                    if (weight <= 0)
                    {
                        continue;
                    }

                    var score = _current.GetValueOrDefault(destination.DestinationId) + weight;
                    _current[destination.DestinationId] = score;
                    total += weight;
                    if (score > bestScore)
                    {
                        best = destination;
                        bestScore = score;
                    }
                }

                if (best is not null)
                {
                    _current[best.DestinationId] = bestScore - total;
                }

                if (_current.Count > Math.Max(configured, destinations.Count))
                {
                    _current.Clear(); // destinations were removed by a reload; forget them
                }

                return best;
            }
        }
    }
}
