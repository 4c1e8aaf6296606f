using System.Diagnostics;
using LbProxy.Tests.Infrastructure;

namespace LbProxy.Tests.Discovery;

/// <summary>
/// Destinations from DNS, with the system resolver reading a hosts file the test edits under load (the proxy in a
/// private mount namespace): an added address takes traffic within the refresh period plus 1 s, a removed one is
/// drained, a name that stops resolving keeps its last addresses; no request fails through any of it.
/// </summary>
public sealed class DnsDiscoveryTests
{
    private static readonly TimeSpan Refresh = TimeSpan.FromSeconds(2);

    [PrivateHostsFact]
    public async Task AddressAdded_ServesWithinRefreshPlusOneSecond_AddressRemoved_IsDrained_NoRequestFails()
    {
        await using var origins = await DnsOrigins.StartAsync(3);
        await using var proxy = await PrivateHostsProxy.StartAsync(origins.Config("RoundRobin", "00:00:02"), DnsOrigins.Lines(0, 1));
        await using var traffic = await TrafficLoop.StartAsync(proxy.Client, static i => $"/images/photo-{i % 20}.jpg", TimeSpan.FromSeconds(120));
        await Poll.UntilAsync(() => origins[0].RequestCount > 0 && origins[1].RequestCount > 0, TimeSpan.FromSeconds(20), "both resolved addresses serve");
        Assert.Equal(0, origins[2].RequestCount);

        // Added: serving within the refresh period plus 1 s of the edit.
        var edited = Stopwatch.StartNew();
        proxy.WriteHosts(DnsOrigins.Lines(0, 1, 2));
        var added = await Poll.TryUntilAsync(() => Task.FromResult(origins[2].RequestCount), static n => n > 0, Refresh + TimeSpan.FromSeconds(1));
        Assert.True(added.Last > 0, $"the added address served nothing within {Refresh + TimeSpan.FromSeconds(1)} of the edit ({edited.Elapsed})");

        // Removed: it stops taking requests, and once it is gone for good nothing fails.
        proxy.WriteHosts(DnsOrigins.Lines(1, 2));
        await Poll.UntilAsync(async () => !(await proxy.Client.GetStringAsync("/_lb/status")).Contains(DnsOrigins.AddressOf(0) + ":", StringComparison.Ordinal),
            Refresh + TimeSpan.FromSeconds(10), "the removed address leaves the cluster");
        var removedCount = origins[0].RequestCount;
        var ok = traffic.Ok;
        await Poll.UntilAsync(() => traffic.Ok >= ok + 100, TimeSpan.FromSeconds(30), "100 more requests");
        Assert.Equal(removedCount, origins[0].RequestCount);
        await origins[0].StopAsync();
        ok = traffic.Ok;
        await Poll.UntilAsync(() => traffic.Ok >= ok + 100, TimeSpan.FromSeconds(30), "100 more requests with the removed origin stopped");

        var served = await traffic.StopAsync();
        Assert.Empty(traffic.Failures);
        Assert.True(served > 200, $"{served} requests");
        Assert.True(origins[1].RequestCount > 0 && origins[2].RequestCount > 0);
    }

    [PrivateHostsFact]
    public async Task NameUnresolvable_KeepsItsLastAddresses_CountsTheFailure_LogsItOnce()
    {
        await using var origins = await DnsOrigins.StartAsync(2);
        await using var proxy = await PrivateHostsProxy.StartAsync(origins.Config("RoundRobin", "00:00:01"), DnsOrigins.Lines(0, 1));
        await using var traffic = await TrafficLoop.StartAsync(proxy.Client, static i => $"/images/photo-{i % 20}.jpg", TimeSpan.FromSeconds(120));
        await Poll.UntilAsync(() => origins[0].RequestCount > 0 && origins[1].RequestCount > 0, TimeSpan.FromSeconds(20), "both resolved addresses serve");

        proxy.WriteHosts([]);
        await Poll.UntilAsync(async () => (await MetricsScrape.TakeAsync(proxy.Client)).Sum("lbproxy_discovery_dns_failures_total", ("host", DnsOrigins.Name)) >= 3,
            TimeSpan.FromSeconds(40), "three failed resolutions counted");

        // Both addresses still serve, after three failed refreshes.
        var before = (origins[0].RequestCount, origins[1].RequestCount);
        await Poll.UntilAsync(() => origins[0].RequestCount > before.Item1 + 10 && origins[1].RequestCount > before.Item2 + 10,
            TimeSpan.FromSeconds(30), "both last addresses keep serving");
        var status = await proxy.Client.GetStringAsync("/_lb/status");
        Assert.Contains($"http://{DnsOrigins.AddressOf(0)}:{origins.Port}/", status, StringComparison.Ordinal);
        Assert.Contains($"http://{DnsOrigins.AddressOf(1)}:{origins.Port}/", status, StringComparison.Ordinal);
        var scrape = await MetricsScrape.TakeAsync(proxy.Client);
        Assert.Equal(2.0, scrape.Single("lbproxy_discovery_dns_addresses", ("host", DnsOrigins.Name)));

        // It resolves again: counted failures stop, and the recovery is logged.
        proxy.WriteHosts(DnsOrigins.Lines(1));
        await Poll.UntilAsync(async () => !(await proxy.Client.GetStringAsync("/_lb/status")).Contains(DnsOrigins.AddressOf(0) + ":", StringComparison.Ordinal),
            TimeSpan.FromSeconds(20), "the name resolves again, to one address");

        await traffic.StopAsync();
        Assert.Empty(traffic.Failures);
        var failedLines = proxy.Process.StandardOutput.Count(static l => l.Contains("did not resolve", StringComparison.Ordinal));
        Assert.True(failedLines == 1, $"the failure is logged once, not per attempt: {failedLines} lines\n{proxy.Process.Output}");
        Assert.Contains(proxy.Process.StandardOutput, static l => l.Contains("resolves again", StringComparison.Ordinal));
    }
}
