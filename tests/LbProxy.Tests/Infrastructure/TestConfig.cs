using System.Text.Json.Nodes;
using LbProxy.SampleOrigin;

namespace LbProxy.Tests.Infrastructure;

/// <summary>Builds yarp.json documents for tests, in the same shape an operator writes.</summary>
internal sealed class TestConfig
{
    private readonly JsonObject _routes = [];
    private readonly JsonObject _clusters = [];
    private readonly JsonObject _lbProxy = [];

    public TestConfig Route(string id, string cluster, string path, params string[] hosts)
    {
        var match = new JsonObject { ["Path"] = path };
        if (hosts.Length > 0)
        {
            match["Hosts"] = new JsonArray([.. hosts.Select(h => JsonValue.Create(h))]);
        }

        _routes[id] = new JsonObject { ["ClusterId"] = cluster, ["Match"] = match };
        return this;
    }

    public TestConfig Cluster(string id, IEnumerable<SampleOriginServer> origins, string policy = "RoundRobin", JsonObject? healthCheck = null, JsonObject? metadata = null) =>
        Cluster(id, origins.Select(static o => (o.Id, o.Address)), policy, healthCheck, metadata);

    /// <summary>A cluster of destinations given by id and address: origins in other processes, or ports where nothing listens.</summary>
    public TestConfig Cluster(string id, IEnumerable<(string Id, Uri Address)> destinationAddresses, string policy = "RoundRobin", JsonObject? healthCheck = null, JsonObject? metadata = null)
    {
        var destinations = new JsonObject();
        foreach (var (destinationId, address) in destinationAddresses)
        {
            destinations[destinationId] = new JsonObject { ["Address"] = address.ToString() };
        }

        var cluster = new JsonObject { ["LoadBalancingPolicy"] = policy, ["Destinations"] = destinations };
        if (healthCheck is not null)
        {
            cluster["HealthCheck"] = healthCheck;
        }

        if (metadata is not null)
        {
            cluster["Metadata"] = metadata;
        }

        _clusters[id] = cluster;
        return this;
    }

    public TestConfig LbProxy(string section, JsonObject value)
    {
        _lbProxy[section] = value;
        return this;
    }

    /// <summary>Active checks every 200 ms, marking a destination down after one failure.</summary>
    public static JsonObject FastActiveHealth() => new()
    {
        ["Active"] = new JsonObject
        {
            ["Enabled"] = true,
            ["Interval"] = "00:00:00.200",
            ["Timeout"] = "00:00:01",
            ["Policy"] = "ConsecutiveFailures",
            ["Path"] = "/healthz",
        },
    };

    /// <summary>A whole config file: one route for every path, to one cluster of <paramref name="origins"/>.</summary>
    public static string CatchAll(IEnumerable<SampleOriginServer> origins) => new TestConfig()
        .Route("everything", "images", "/{**path}")
        .Cluster("images", origins)
        .ToJson();

    /// <summary>
    /// A whole config file: route <c>images</c> (<c>/images/...</c>) to one origin, with a marker in the cluster's
    /// metadata so that two files to the same origin still differ, as successive edits of a live config do.
    /// </summary>
    public static string SingleOrigin(SampleOriginServer origin, string marker) => new TestConfig()
        .Route("images", "images", "/images/{**path}")
        .Cluster("images", [origin], metadata: new JsonObject { ["Marker"] = marker })
        .ToJson();

    public string ToJson() => new JsonObject
    {
        ["ReverseProxy"] = new JsonObject { ["Routes"] = _routes.DeepClone(), ["Clusters"] = _clusters.DeepClone() },
        ["LbProxy"] = _lbProxy.DeepClone(),
    }.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true });
}
