using System.Diagnostics;
using System.Threading.RateLimiting;
using LbProxy.RateLimiting;
using LbProxy.Tests.Infrastructure;
using Xunit.Abstractions;

namespace LbProxy.Tests.RateLimiting;

/// <summary>
/// The partitions of one policy stay within MaxPartitions whatever the number of distinct keys, clients that have a
/// partition keep it through a flood, and keys beyond the bound share a fixed set of partitions, each key always the same one.
/// </summary>
[Collection(nameof(RunsAlone))] // the managed heap is the process's: tests beside it grew it by 15 MiB in a CI run
public sealed class RateLimitPartitionsTests(ITestOutputHelper output)
{
    private static readonly RateLimitPolicyOptions FiveASecond = new(
        RateLimitKind.TokenBucket, new PartitionBy(PartitionSource.ClientIp, null), 5, 5, TimeSpan.FromSeconds(1), null, null, null, 0, 10_000);

    [Fact]
    public void AMillionDistinctAddresses_StayWithinMaxPartitions_AndInBoundedMemory()
    {
        using var policy = new RateLimitPolicy("flood", FiveASecond);
        Span<char> key = stackalloc char[64];
        Touch(policy, 0, 20_000, key); // warm up: the map at its bound, code jitted
        var managedBefore = GC.GetTotalMemory(forceFullCollection: true);
        var residentBefore = Environment.WorkingSet;

        var clock = Stopwatch.StartNew();
        Touch(policy, 20_000, 1_000_000, key);
        clock.Stop();
        var managedAfter = GC.GetTotalMemory(forceFullCollection: true);
        var residentAfter = Environment.WorkingSet;

        output.WriteLine($"1,000,000 distinct addresses in {clock.Elapsed.TotalSeconds:F2} s; partitions {policy.Partitions.Count} (shared {policy.Partitions.SharedCount}); " +
            $"managed heap {managedBefore / 1048576.0:F1} -> {managedAfter / 1048576.0:F1} MiB; working set {residentBefore / 1048576.0:F1} -> {residentAfter / 1048576.0:F1} MiB");
        Assert.InRange(policy.Partitions.Count, 10_000 - RateLimitPartitions.SharedPartitions, 10_000);
        Assert.Equal(RateLimitPartitions.SharedPartitions, policy.Partitions.SharedCount);

        // A million more keys than the bound cost no more than a few MiB of managed heap beyond the full map.
        Assert.InRange(managedAfter - managedBefore, long.MinValue, 8L << 20);
    }

    [Fact]
    public void AClientWithAPartition_KeepsItThroughAFlood_AndAnOverflowKeyAlwaysGetsTheSameSharedOne()
    {
        using var policy = new RateLimitPolicy("flood", FiveASecond with { MaxPartitions = 128 });
        var settled = policy.Partitions.Get("192.0.2.1");
        Span<char> key = stackalloc char[64];
        Touch(policy, 0, 10_000, key);

        Assert.Same(settled, policy.Partitions.Get("192.0.2.1"));
        Assert.Same(policy.Partitions.Get("198.51.100.77"), policy.Partitions.Get("198.51.100.77"));
        Assert.Equal(128, policy.Partitions.Count);
    }

    [Fact]
    public void Tick_DropsIdlePartitions_AndKeepsThoseInUse()
    {
        using var policy = new RateLimitPolicy("idle", FiveASecond with { Kind = RateLimitKind.Concurrency, TokenLimit = null, TokensPerPeriod = null, ReplenishmentPeriod = null, PermitLimit = 1 });
        using var held = policy.Partitions.Get("held").AttemptAcquire();
        policy.Partitions.Get("idle").AttemptAcquire().Dispose();
        Assert.True(held.IsAcquired);
        Assert.Equal(2, policy.Partitions.Count);

        policy.Partitions.Tick(TimeSpan.Zero);

        Assert.Equal(1, policy.Partitions.Count);
        Assert.False(policy.Partitions.Get("held").AttemptAcquire().IsAcquired); // the same limiter, its permit still out
    }

    [Theory]
    [InlineData("TokenBucket", 1)]
    [InlineData("FixedWindow", 60)]
    public void RetryAfter_IsTheLimitersWhenItGivesOne_InWholeSecondsOfAtLeastOne(string kindName, int expectedAtMost)
    {
        var kind = Enum.Parse<RateLimitKind>(kindName);
        var options = kind == RateLimitKind.TokenBucket
            ? FiveASecond with { TokenLimit = 1, TokensPerPeriod = 1, ReplenishmentPeriod = TimeSpan.FromMilliseconds(200) }
            : FiveASecond with { Kind = kind, TokenLimit = null, TokensPerPeriod = null, ReplenishmentPeriod = null, PermitLimit = 1, Window = TimeSpan.FromMinutes(1) };
        using var policy = new RateLimitPolicy("p", options);
        var limiter = policy.Partitions.Get("k");
        using var first = limiter.AttemptAcquire();
        using var refused = limiter.AttemptAcquire();

        Assert.False(refused.IsAcquired);
        Assert.InRange(RateLimitMiddleware.RetryAfterSeconds(refused, policy), 1, expectedAtMost);
    }

    private static void Touch(RateLimitPolicy policy, int from, int to, Span<char> key)
    {
        for (var i = from; i < to; i++)
        {
            // 10.x.y.z: distinct IPv4 addresses, formatted as the middleware formats them.
            Assert.True(key.TryWrite($"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}", out var written));
            using var lease = policy.Partitions.Get(key[..written]).AttemptAcquire();
        }
    }
}
