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

    public TestConfig Cluster(string id, IEnumerable<SampleOriginServer> origins, string policy = "RoundRobin", JsonObject? healthCheck = null, JsonObject? metadata = null)
    {
        var destinations = new JsonObject();
        foreach (var origin in origins)
        {
            destinations[origin.Id] = new JsonObject { ["Address"] = origin.Address.ToString() };
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

    public string ToJson() => new JsonObject
    {
        ["ReverseProxy"] = new JsonObject { ["Routes"] = _routes.DeepClone(), ["Clusters"] = _clusters.DeepClone() },
        ["LbProxy"] = _lbProxy.DeepClone(),
    }.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true });
}
