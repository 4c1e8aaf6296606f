using System.Net;
using LbProxy.SampleOrigin;
using LbProxy.Tests.Infrastructure;
using Yarp.ReverseProxy;
using Yarp.ReverseProxy.Model;

namespace LbProxy.Tests.Functional;

public sealed class HealthCheckTests
{
    [Fact]
    public async Task ActiveHealth_OriginDies_IsTakenOutWhileTrafficContinues()
    {
        await using var origins = await TestOrigins.StartAsync(2);
        await using var proxy = await TestProxy.StartAsync(new TestConfig()
            .Route("images", "images", "/images/{**path}")
            .Cluster("images", origins.All, healthCheck: TestConfig.FastActiveHealth())
            .ToJson());
        await ProxyState.WaitForActiveHealthAsync(proxy, "origin-1", DestinationHealth.Healthy);

        // Steady traffic from before the origin dies until well after it is taken out.
        using var stopTraffic = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var traffic = SendUntilCancelledAsync(proxy.Client, stopTraffic.Token);

        await origins[1].StopAsync();
        await ProxyState.WaitForActiveHealthAsync(proxy, "origin-1", DestinationHealth.Unhealthy);

        // Once it is out, every request succeeds on the survivor.
        for (var i = 0; i < 50; i++)
        {
            Assert.Equal("origin-0", await TestOrigins.OriginOfAsync(proxy.Client, $"/images/after-{i}.jpg"));
        }

        await stopTraffic.CancelAsync();
        var (ok, failed) = await traffic;
        Assert.True(ok > 0, "traffic went on while the origin was being taken out");
        // Only requests sent in the short window before detection can have failed.
        Assert.True(failed < ok, $"{failed} failed vs {ok} ok");
    }

    [Fact]
    public async Task ActiveHealth_OriginReportsUnhealthy_GetsNoTrafficUntilItRecovers()
    {
        await using var origins = await TestOrigins.StartAsync(2);
        await using var proxy = await TestProxy.StartAsync(new TestConfig()
            .Route("images", "images", "/images/{**path}")
            .Cluster("images", origins.All, healthCheck: TestConfig.FastActiveHealth())
            .ToJson());

        origins[1].Behavior.Unhealthy = true;
        await ProxyState.WaitForActiveHealthAsync(proxy, "origin-1", DestinationHealth.Unhealthy);
        var before = origins[1].RequestCount;
        for (var i = 0; i < 20; i++)
        {
            Assert.Equal("origin-0", await TestOrigins.OriginOfAsync(proxy.Client, $"/images/{i}.jpg"));
        }

        Assert.Equal(before, origins[1].RequestCount);

        origins[1].Behavior.Unhealthy = false;
        await ProxyState.WaitForActiveHealthAsync(proxy, "origin-1", DestinationHealth.Healthy);
        var seen = new HashSet<string>();
        for (var i = 0; i < 10; i++)
        {
            seen.Add(await TestOrigins.OriginOfAsync(proxy.Client, $"/images/back-{i}.jpg"));
        }

        Assert.Contains("origin-1", seen);
    }

    [Fact]
    public async Task NoHealthyDestination_AnswersWithoutHanging()
    {
        await using var origins = await TestOrigins.StartAsync(1);
        await using var proxy = await TestProxy.StartAsync(new TestConfig()
            .Route("images", "images", "/images/{**path}")
            .Cluster("images", origins.All, healthCheck: TestConfig.FastActiveHealth())
            .ToJson());

        await origins[0].StopAsync();
        await ProxyState.WaitForActiveHealthAsync(proxy, "origin-0", DestinationHealth.Unhealthy);
        using var response = await proxy.Client.GetAsync("/images/a.jpg");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
    }

    private static async Task<(int Ok, int Failed)> SendUntilCancelledAsync(HttpClient client, CancellationToken cancellationToken)
    {
        int ok = 0, failed = 0;
        for (var i = 0; !cancellationToken.IsCancellationRequested && i < 100_000; i++)
        {
            try
            {
                using var response = await client.GetAsync($"/images/steady-{i}.jpg", cancellationToken);
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    ok++;
                }
                else
                {
                    failed++;
                }
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }

        return (ok, failed);
    }
}
