using LbProxy.Tests.Infrastructure;
using Yarp.ReverseProxy.Model;

namespace LbProxy.Tests.Functional;

/// <summary>
/// The origin that serves a hot image dies (SIGKILL of its process) under load: no GET fails. Its connections
/// are refused from then on; such a failure costs the origins nothing, is retried outside the retry budget, and
/// takes the destination out at once rather than after a failure rate builds up.
/// </summary>
public sealed class OriginKillTests
{
    private const string Victim = "victim";
    private const int Loops = 4;
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    [Theory]
    [InlineData("RoundRobin")]
    [InlineData("WeightedRoundRobin")]
    [InlineData("ConsistentHash")]
    public async Task KillTheOriginServingAHotImage_UnderLoad_NoGetFails(string policy)
    {
        var directory = Directory.CreateTempSubdirectory("lbproxy-kill-");
        await using var others = await TestOrigins.StartAsync(2);
        var victim = ProxyProcess.Start(directory.FullName, "origin", "--urls", "http://127.0.0.1:0", "--id", Victim);
        var traffic = new List<TrafficLoop>();
        try
        {
            var victimAddress = await victim.WaitUntilListeningAsync(Bound);
            // No active health checks: what takes the dead origin out here is what its refusals tell the proxy.
            await using var proxy = await TestProxy.StartAsync(new TestConfig()
                .Route("images", "images", "/images/{**path}")
                .Cluster("images", [(Victim, victimAddress), .. others.All.Select(static o => (o.Id, o.Address))], policy)
                .ToJson());
            var hot = await PathServedByVictimAsync(proxy);
            for (var i = 0; i < Loops; i++)
            {
                traffic.Add(await TrafficLoop.StartAsync(proxy.Client, hot));
            }

            await Poll.UntilAsync(() => Task.FromResult(Ok(traffic)), static ok => ok > 300, Bound, "steady traffic on the hot image");
            var retriesBefore = await SucceededRetriesAsync(proxy);

            victim.KillHard();
            await Poll.UntilAsync(() => victim.HasExited, Bound, "the victim's death");
            var atKill = Ok(traffic);
            await Poll.UntilAsync(() => Task.FromResult(Ok(traffic)), ok => ok > atKill + 300, Bound, "traffic after the kill");
            foreach (var loop in traffic)
            {
                await loop.StopAsync();
            }

            Assert.Empty(traffic.SelectMany(static loop => loop.Failures));
            // Taken out at once: only the requests in flight at the kill, and those balanced onto it before the
            // first refusal took it out, ever tried it; not every request until a failure rate built up.
            Assert.Equal(DestinationHealth.Unhealthy, ProxyState.Destination(proxy, Victim).Health.Passive);
            Assert.InRange(await SucceededRetriesAsync(proxy) - retriesBefore, 1, 3 * Loops);
        }
        finally
        {
            foreach (var loop in traffic)
            {
                await loop.DisposeAsync();
            }

            await victim.DisposeAsync();
            directory.Delete(recursive: true);
        }
    }

    /// <summary>An image path the proxy sends to the victim: for ConsistentHash its owner, for the others its next turn.</summary>
    private static async Task<string> PathServedByVictimAsync(TestProxy proxy)
    {
        for (var i = 0; i < 60; i++)
        {
            var path = $"/images/hot-{i}.jpg";
            if (await TestOrigins.OriginOfAsync(proxy.Client, path) == Victim)
            {
                return path;
            }
        }

        throw new InvalidOperationException("no path of 60 was sent to the victim");
    }

    private static int Ok(List<TrafficLoop> traffic) => traffic.Sum(static loop => loop.Ok);

    private static async Task<double> SucceededRetriesAsync(TestProxy proxy) =>
        (await MetricsScrape.TakeAsync(proxy.Client)).Sum("lbproxy_proxy_retries_total", ("cluster", "images"), ("outcome", "succeeded"));
}
