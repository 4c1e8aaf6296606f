using LbProxy.LoadBalancing;
using LbProxy.Tests.Infrastructure;
using Yarp.ReverseProxy.Model;

namespace LbProxy.Tests.LoadBalancing;

public sealed class WeightedRoundRobinPolicyTests
{
    [Fact]
    public void Pick_Weights5To1To1_IsSmoothAndExact()
    {
        var policy = new WeightedRoundRobinPolicy();
        var cluster = new ClusterState("c");
        var destinations = new List<DestinationState>
        {
            TestDestinations.Weighted("a", 5),
            TestDestinations.Weighted("b", 1),
            TestDestinations.Weighted("c", 1),
        };

        var picks = Enumerable.Range(0, 7000).Select(_ => policy.PickDestination(new DefaultHttpContext(), cluster, destinations)!.DestinationId).ToList();

        Assert.Equal("aabacaa", string.Concat(picks.Take(7)));
        Assert.Equal(5000, picks.Count(p => p == "a"));
        Assert.Equal(1000, picks.Count(p => p == "b"));
        Assert.Equal(1000, picks.Count(p => p == "c"));
    }

    [Fact]
    public void Pick_UnhealthyDestinationLeftOut_RestKeepTheirRatio()
    {
        var policy = new WeightedRoundRobinPolicy();
        var cluster = new ClusterState("c");
        var a = TestDestinations.Weighted("a", 3);
        var b = TestDestinations.Weighted("b", 1);
        var c = TestDestinations.Weighted("c", 2);

        var picks = Enumerable.Range(0, 4000).Select(_ => policy.PickDestination(new DefaultHttpContext(), cluster, [a, b])!).ToList();

        Assert.Equal(3000, picks.Count(p => p == a));
        Assert.Equal(1000, picks.Count(p => p == b));
        Assert.DoesNotContain("c", picks.Select(p => p.DestinationId));
    }

    [Fact]
    public void Pick_OnlyZeroWeights_IsNull()
    {
        var policy = new WeightedRoundRobinPolicy();

        Assert.Null(policy.PickDestination(new DefaultHttpContext(), new ClusterState("c"), [TestDestinations.Weighted("a", 0)]));
        Assert.Null(policy.PickDestination(new DefaultHttpContext(), new ClusterState("c"),
            [TestDestinations.Weighted("a", 0), TestDestinations.Weighted("b", 0)]));
    }
}
