using System.Net;
using LbProxy.Tests.Infrastructure;

namespace LbProxy.Tests.Functional;

/// <summary>
/// The edge's cap on a cluster's requests in flight, made small (one per destination, a 2 s wait) so one slow
/// request fills it: the next request waits its turn (seen on the capacity gauges), then gets a 503 with Retry-After,
/// counted as shed <c>cluster_capacity</c>, and never reaches the origin; once the slot is free, requests go through again.
/// </summary>
public sealed class ClusterCapacityTests : IAsyncLifetime
{
    private TestOrigins _origins = null!;
    private TestProxy _proxy = null!;

    public async Task InitializeAsync()
    {
        _origins = await TestOrigins.StartAsync(1);
        _proxy = await TestProxy.StartAsync(TestConfig.CatchAll(_origins.All),
            "--LbProxy:Forwarding:MaxRequestsPerDestination", "1",
            "--LbProxy:Forwarding:CapacityQueueTimeout", "00:00:02");
    }

    public async Task DisposeAsync()
    {
        await _proxy.DisposeAsync();
        await _origins.DisposeAsync();
    }

    [Fact]
    public async Task CapFull_TheNextRequestWaitsThenGets503_CountedAndNeverForwarded()
    {
        var origin = _origins[0];
        origin.Behavior.DelayMs = 6_000;
        var slow = _proxy.Client.GetAsync("/images/slow.jpg");
        await Poll.UntilAsync(() => origin.RequestCount == 1, TimeSpan.FromSeconds(20), "the slow request at the origin");
        var full = await Capacity();

        var next = _proxy.Client.GetAsync("/images/next.jpg");
        var waiting = await Poll.UntilAsync(Capacity, static c => c.Waiting == 1 || c.Waiting < 0, TimeSpan.FromSeconds(20), "the next request waiting for a turn");
        using var refused = await next;
        using var slowResponse = await slow;
        origin.Behavior.DelayMs = 0;
        using var after = await _proxy.Client.GetAsync("/images/after.jpg");
        var idle = await Capacity();

        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
        Assert.Equal("1", refused.Headers.GetValues("Retry-After").Single());
        Assert.Contains("request capacity", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, slowResponse.StatusCode);
        Assert.Equal(HttpStatusCode.OK, after.StatusCode);
        Assert.Equal(2, origin.RequestCount); // the slow one and the one after: the refused one never went up
        var scrape = await MetricsScrape.TakeAsync(_proxy.Client);
        Assert.Equal(1, scrape.Sum("lbproxy_shed_requests_total", ("reason", "cluster_capacity")));
        Assert.Equal((1, 0, 1), full);
        Assert.Equal((1, 1, 1), waiting);
        Assert.Equal((0, 0, 1), idle);
    }

    /// <summary>The cluster's capacity gauges: in flight, waiting, limit (-1 each when a series is missing).</summary>
    private async Task<(double InFlight, double Waiting, double Limit)> Capacity()
    {
        var scrape = await MetricsScrape.TakeAsync(_proxy.Client);
        double Read(string name) => scrape.Where(name).Any() ? scrape.Sum(name) : -1;
        return (Read("lbproxy_cluster_capacity_in_flight"), Read("lbproxy_cluster_capacity_waiting"), Read("lbproxy_cluster_capacity_limit"));
    }
}
