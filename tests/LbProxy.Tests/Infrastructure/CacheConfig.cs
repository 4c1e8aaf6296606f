using System.Text.Json.Nodes;

namespace LbProxy.Tests.Infrastructure;

/// <summary>yarp.json documents for the hot set's tests: route <c>images</c> (<c>/images/...</c>, cached) and route <c>plain</c> (<c>/plain/...</c>, not) to one cluster.</summary>
internal static class CacheConfig
{
    public static string For(Uri origin, JsonObject? cache = null, JsonObject? routeMetadata = null, JsonObject? healthCheck = null, params (string Id, Uri Address)[] more)
    {
        var destinations = new JsonObject { ["origin"] = new JsonObject { ["Address"] = origin.ToString() } };
        foreach (var (id, address) in more)
        {
            destinations[id] = new JsonObject { ["Address"] = address.ToString() };
        }

        var cluster = new JsonObject { ["Destinations"] = destinations };
        if (healthCheck is not null)
        {
            cluster["HealthCheck"] = healthCheck;
        }

        return new JsonObject
        {
            ["ReverseProxy"] = new JsonObject
            {
                ["Routes"] = new JsonObject
                {
                    ["images"] = new JsonObject
                    {
                        ["ClusterId"] = "images",
                        ["Match"] = new JsonObject { ["Path"] = "/images/{**path}" },
                        ["Metadata"] = routeMetadata ?? new JsonObject { ["Cache.Enabled"] = "true" },
                    },
                    ["plain"] = new JsonObject { ["ClusterId"] = "images", ["Match"] = new JsonObject { ["Path"] = "/plain/{**path}" } },
                },
                ["Clusters"] = new JsonObject { ["images"] = cluster },
            },
            ["LbProxy"] = new JsonObject { ["Cache"] = cache ?? new JsonObject() },
        }.ToJsonString();
    }
}
