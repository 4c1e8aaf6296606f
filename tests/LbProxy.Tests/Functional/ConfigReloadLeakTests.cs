using LbProxy.Configuration;
using LbProxy.Tests.Infrastructure;

namespace LbProxy.Tests.Functional;

/// <summary>Reloads must leave nothing behind: no watcher, timer or thread per reload.</summary>
[Collection(nameof(RunsAlone))]
public sealed class ConfigReloadLeakTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task ThousandReloads_LeaveWatchersTimersAndThreadsAtBaseline()
    {
        await using var origins = await TestOrigins.StartAsync(2);
        await using var proxy = await TestProxy.StartAsync(TestConfig.SingleOrigin(origins[0], "v1"), TestProxy.FastReload);
        var reloader = proxy.Services.GetRequiredService<ConfigReloader>();
        await WarmUpAsync(proxy, reloader, origins);
        var baseline = ResourceCounts.Take();

        for (var i = 0; i < 1000; i++)
        {
            await File.WriteAllTextAsync(proxy.ConfigPath, TestConfig.SingleOrigin(origins[i % 2], $"reload-{i}"));
            var status = await reloader.ReloadAsync();
            Assert.True(status.LastReloadSucceeded, status.LastError);
        }

        Assert.True(proxy.Services.GetRequiredService<ConfigState>().Current.ReloadsApplied >= 1000);
        var after = await ResourceCounts.SettleAsync(baseline, Bound);
        Assert.Equal(baseline.InotifyInstances, after.InotifyInstances);
        Assert.InRange(after.Timers, 0, baseline.Timers + 5);
        Assert.InRange(after.Threads, 0, baseline.Threads + 4);
    }

    private static async Task WarmUpAsync(TestProxy proxy, ConfigReloader reloader, TestOrigins origins)
    {
        // One reload and some traffic first, so lazily created pools and timers are part of the baseline.
        await File.WriteAllTextAsync(proxy.ConfigPath, TestConfig.SingleOrigin(origins[1], "warm-up"));
        await reloader.ReloadAsync();
        for (var i = 0; i < 20; i++)
        {
            using var response = await proxy.Client.GetAsync($"/images/warm-{i}.jpg");
        }
    }
}
