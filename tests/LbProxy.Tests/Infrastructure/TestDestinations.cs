using System.Globalization;
using LbProxy.LoadBalancing;
using Yarp.ReverseProxy.Configuration;
using Yarp.ReverseProxy.Model;

namespace LbProxy.Tests.Infrastructure;

/// <summary>YARP destinations for unit tests of balancing and health stages; nothing listens at their addresses.</summary>
internal static class TestDestinations
{
    /// <summary>origin-0, origin-1, ... of weight 1.</summary>
    public static List<DestinationState> Make(int n) => [.. Enumerable.Range(0, n).Select(i => Weighted($"origin-{i}", 1))];

    public static DestinationState Weighted(string id, double weight) => new(id, new DestinationModel(new DestinationConfig
    {
        Address = $"http://127.0.0.1:{9000 + Math.Abs(id.GetHashCode(StringComparison.Ordinal) % 1000)}/",
        Metadata = new Dictionary<string, string> { [DestinationWeight.MetadataKey] = weight.ToString(CultureInfo.InvariantCulture) },
    }));
}
