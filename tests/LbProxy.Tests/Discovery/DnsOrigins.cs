using System.Text.Json.Nodes;
using LbProxy.SampleOrigin;
using LbProxy.Tests.Infrastructure;

namespace LbProxy.Tests.Discovery;

/// <summary>
/// Sample origins on 127.0.0.2, 127.0.0.3, ... all on one port, as the pods behind a headless Service are: one name,
/// one port, an address each. Origin i answers <c>X-Origin-Id: dns-i</c>.
/// </summary>
internal sealed class DnsOrigins : IAsyncDisposable
{
    public const string Name = "origins.lbproxy.test";

    private readonly List<SampleOriginServer> _origins;

    private DnsOrigins(int port, List<SampleOriginServer> origins)
    {
        Port = port;
        _origins = origins;
    }

    public int Port { get; }

    public SampleOriginServer this[int index] => _origins[index];

    public static async Task<DnsOrigins> StartAsync(int count)
    {
        var port = LoopbackPorts.Unused();
        var origins = new List<SampleOriginServer>();
        for (var i = 0; i < count; i++)
        {
            origins.Add(await SampleOriginServer.StartAsync($"dns-{i}", $"http://{AddressOf(i)}:{port}"));
        }

        return new DnsOrigins(port, origins);
    }

    public static string AddressOf(int index) => $"127.0.0.{index + 2}";

    /// <summary>The hosts-file lines that make <see cref="Name"/> resolve to these origins, in this order.</summary>
    public static IEnumerable<string> Lines(params int[] indexes) => indexes.Select(static i => $"{AddressOf(i)} {Name}");

    /// <summary>A config: /images/... to one destination, <c>origins</c>, named by <see cref="Name"/>, refreshed every <paramref name="refresh"/>.</summary>
    public string Config(string policy, string refresh)
    {
        var config = JsonNode.Parse(new TestConfig()
            .Route("images", "images", "/images/{**path}")
            .Cluster("images", [("origins", new Uri($"http://{Name}:{Port}/"))], policy)
            .ToJson())!;
        config["LbProxy"]!["Discovery"] = new JsonObject { ["Dns"] = new JsonObject { ["RefreshPeriod"] = refresh } };
        return config.ToJsonString();
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var origin in _origins)
        {
            await origin.DisposeAsync();
        }
    }
}
