using LbProxy.SampleOrigin;
using LbProxy.Tests.Discovery;

namespace LbProxy.Tests.Functional;

/// <summary>
/// Replicas agree: two LbProxy processes with the same config, whose resolvers list the name's addresses in
/// different orders, send every image key to the same origin.
/// </summary>
public sealed class FleetAgreementTests
{
    private const int Keys = 1_000;

    [PrivateHostsFact]
    public async Task TwoReplicas_AddressesInDifferentOrders_SendEveryKeyToTheSameOrigin()
    {
        await using var origins = await DnsOrigins.StartAsync(3);
        var config = origins.Config("ConsistentHash", "00:00:30");
        var first = await PlacementAsync(config, DnsOrigins.Lines(0, 1, 2));
        var second = await PlacementAsync(config, DnsOrigins.Lines(2, 0, 1));

        var agreed = Enumerable.Range(0, Keys).Count(i => first[i] == second[i]);
        Assert.Equal(Keys, agreed);
        // Not vacuous: the keys spread over all three addresses.
        var perOrigin = first.GroupBy(static o => o).ToDictionary(static g => g.Key, static g => g.Count());
        Assert.Equal(3, perOrigin.Count);
        Assert.All(perOrigin.Values, static n => Assert.True(n > Keys / 10, $"{n} keys"));
    }

    private static async Task<string[]> PlacementAsync(string config, IEnumerable<string> hosts)
    {
        await using var replica = await PrivateHostsProxy.StartAsync(config, hosts);
        var placement = new string[Keys];
        for (var i = 0; i < Keys; i++)
        {
            using var response = await replica.Client.GetAsync($"/images/key-{i}.jpg");
            Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
            placement[i] = response.Headers.GetValues(SampleOriginServer.OriginIdHeader).Single();
        }

        return placement;
    }
}
