using LbProxy.Images;
using Yarp.ReverseProxy.LoadBalancing;
using Yarp.ReverseProxy.Model;

namespace LbProxy.LoadBalancing;

/// <summary>
/// Keeps each image on one origin, so origin caches stay warm.
/// <para>
/// Algorithm: weighted rendezvous hashing (highest random weight). Every destination scores the key with
/// <c>-weight / ln(u)</c>, u a uniform draw from hash(key, destination); the highest score wins. Chosen over a
/// ring or Maglev because it needs no table at all: YARP hands each request the currently healthy
/// destinations, and rendezvous over exactly that list is already correct, so health changes and reloads
/// cost nothing and move only the keys of the destination that left or came back (the minimum). Weights are
/// exact in expectation, and the runner-up for a key is the natural place to retry. The cost is O(n) hash
/// mixes per request, a few nanoseconds each: small for origin pools of tens of destinations.
/// </para>
/// </summary>
internal sealed class ConsistentHashPolicy : ILoadBalancingPolicy
{
    public const string PolicyName = "ConsistentHash";

    public string Name => PolicyName;

    public DestinationState? PickDestination(HttpContext context, ClusterState cluster, IReadOnlyList<DestinationState> availableDestinations) =>
        Pick(KeyOf(context, HashKeySpec.Of(cluster.Model)), availableDestinations);

    /// <summary>The destination with the highest score for the key; null when none has a positive weight.</summary>
    public static DestinationState? Pick(ulong key, IReadOnlyList<DestinationState> destinations)
    {
        DestinationState? best = null;
        var bestScore = double.NegativeInfinity;
        for (var i = 0; i < destinations.Count; i++)
        {
            var destination = destinations[i];
            var score = Score(key, DestinationWeight.Of(destination));
            if (score > bestScore)
            {
                best = destination;
                bestScore = score;
            }
        }

        return best;
    }

    internal static double Score(ulong key, DestinationWeight destination)
    {
        if (destination.Weight <= 0)
        {
            return double.NegativeInfinity;
        }

        var mixed = StableHash.Combine(key, destination.Hash);
        // 53 random bits as a double strictly inside (0, 1), so ln(u) is finite and negative.
        var u = ((mixed >> 11) + 0.5) * (1.0 / (1UL << 53));
        return -destination.Weight / Math.Log(u);
    }

    /// <summary>The request's key: path (and query, or a header) plus the negotiated format class. No allocation.</summary>
    public static ulong KeyOf(HttpContext context, HashKeySpec spec)
    {
        var request = context.Request;
        var hash = StableHash.Start;
        if (spec.Kind == HashKeyKind.Header)
        {
            foreach (var value in request.Headers[spec.HeaderName!])
            {
                hash = StableHash.Add(StableHash.Add(hash, value), ',');
            }

            return StableHash.Finish(hash);
        }

        hash = StableHash.Add(hash, request.PathBase.Value);
        hash = StableHash.Add(hash, request.Path.Value);
        if (spec.Kind == HashKeyKind.PathAndQuery)
        {
            hash = StableHash.Add(hash, request.QueryString.Value);
        }

        if (context.Features.Get<IImageFormatFeature>()?.FormatClass is { } format)
        {
            hash = StableHash.Add(StableHash.Add(hash, '\n'), format);
        }

        return StableHash.Finish(hash);
    }
}
