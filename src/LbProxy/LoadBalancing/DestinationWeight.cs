using System.Globalization;
using System.Runtime.CompilerServices;
using Yarp.ReverseProxy.Model;

namespace LbProxy.LoadBalancing;

/// <summary>
/// A destination's balancing identity: the stable hash of its id and its <c>Weight</c> metadata (default 1;
/// 0 takes it out of the rotation, for draining). Computed once per destination model: a config reload
/// makes new models, so a changed weight is picked up without any per-request parsing.
/// </summary>
internal sealed class DestinationWeight
{
    public const string MetadataKey = "Weight";
    public const double DefaultWeight = 1.0;

    private static readonly ConditionalWeakTable<DestinationModel, DestinationWeight> Cache = new();

    private DestinationWeight(ulong hash, double weight)
    {
        Hash = hash;
        Weight = weight;
    }

    /// <summary>
    /// Hash of the destination id, not its address: keys stay put when an origin's address changes, and every
    /// replica of the proxy agrees.
    /// </summary>
    public ulong Hash { get; }

    public double Weight { get; }

    public static DestinationWeight Of(DestinationState destination)
    {
        var model = destination.Model;
        if (Cache.TryGetValue(model, out var known))
        {
            return known;
        }

        var metadata = model.Config.Metadata;
        var weight = metadata is not null && metadata.TryGetValue(MetadataKey, out var text) ? Parse(text) ?? DefaultWeight : DefaultWeight;
        var created = new DestinationWeight(StableHash.Of(destination.DestinationId), weight);
        Cache.AddOrUpdate(model, created); // a race computes the same value twice; both are equal
        return created;
    }

    /// <summary>The weight a metadata value means, or null when it is not a finite number of at least 0.</summary>
    public static double? Parse(string? value) =>
        double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var weight) && double.IsFinite(weight) && weight >= 0
            ? weight
            : null;
}
