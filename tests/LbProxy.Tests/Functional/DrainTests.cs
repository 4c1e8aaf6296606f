using System.Net;
using System.Text.Json.Nodes;
using LbProxy.Tests.Infrastructure;

namespace LbProxy.Tests.Functional;

/// <summary><c>Weight: 0</c> drains a destination: it gets no new request, whatever the balancing policy.</summary>
public sealed class DrainTests
{
    public static TheoryData<string> Policies =>
        ["RoundRobin", "PowerOfTwoChoices", "Random", "LeastRequests", "FirstAlphabetical", "WeightedRoundRobin", "ConsistentHash"];

    [Theory]
    [MemberData(nameof(Policies))]
    public async Task DrainedDestination_GetsNoRequest(string policy)
    {
        await using var origins = await TestOrigins.StartAsync(2);
        await using var proxy = await TestProxy.StartAsync(WithWeight(Images(origins, policy), "origin-0", "0"));

        for (var i = 0; i < 20; i++)
        {
            Assert.Equal("origin-1", await TestOrigins.OriginOfAsync(proxy.Client, $"/images/{i}.jpg"));
        }

        Assert.Equal(0, origins[0].RequestCount);
    }

    [Theory]
    [MemberData(nameof(Policies))]
    public async Task OnlyDrainedDestinationsLeft_ClusterAnswersIts503(string policy)
    {
        // One destination: YARP hands it over without asking the balancing policy.
        await using var origins = await TestOrigins.StartAsync(1);
        await using var proxy = await TestProxy.StartAsync(WithWeight(Images(origins, policy), "origin-0", "0"));

        using var response = await proxy.Client.GetAsync("/images/a.jpg");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.NotNull(response.Headers.RetryAfter);
        Assert.Contains("'images'", await response.Content.ReadAsStringAsync());
        Assert.Equal(0, origins[0].RequestCount);
    }

    [Fact]
    public async Task DrainedDestination_IsNoRetryTarget_WhenTheOtherOneRefuses()
    {
        await using var origins = await TestOrigins.StartAsync(1);
        var config = JsonNode.Parse(WithWeight(Images(origins, "ConsistentHash"), "origin-0", "0"))!;
        config["ReverseProxy"]!["Clusters"]!["images"]!["Destinations"]!["refusing"] = new JsonObject { ["Address"] = LoopbackPorts.UnusedAddress().ToString() };
        await using var proxy = await TestProxy.StartAsync(config.ToJsonString());

        using var response = await proxy.Client.GetAsync("/images/a.jpg");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal(0, origins[0].RequestCount);
    }

    [Fact]
    public async Task WeightSetTo0ByAReload_DrainsTheDestination()
    {
        await using var origins = await TestOrigins.StartAsync(2);
        await using var proxy = await TestProxy.StartAsync(Images(origins, "RoundRobin"), TestProxy.FastReload);
        await TestOrigins.OriginOfAsync(proxy.Client, "/images/before.jpg");

        await File.WriteAllTextAsync(proxy.ConfigPath, WithWeight(Images(origins, "RoundRobin"), "origin-0", "0"));
        await Poll.UntilAsync(
            () => ProxyState.Destination(proxy, "origin-0").Model.Config.Metadata?.GetValueOrDefault("Weight") == "0",
            TimeSpan.FromSeconds(20),
            "the reload that drains origin-0");
        var before = origins[0].RequestCount;
        for (var i = 0; i < 20; i++)
        {
            Assert.Equal("origin-1", await TestOrigins.OriginOfAsync(proxy.Client, $"/images/{i}.jpg"));
        }

        Assert.Equal(before, origins[0].RequestCount);
    }

    private static string Images(TestOrigins origins, string policy) => new TestConfig()
        .Route("images", "images", "/images/{**path}")
        .Cluster("images", origins.All, policy)
        .ToJson();

    private static string WithWeight(string json, string destination, string weight)
    {
        var node = JsonNode.Parse(json)!;
        node["ReverseProxy"]!["Clusters"]!["images"]!["Destinations"]![destination]!["Metadata"] = new JsonObject { ["Weight"] = weight };
        return node.ToJsonString();
    }
}
