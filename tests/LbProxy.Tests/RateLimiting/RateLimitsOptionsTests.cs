using LbProxy.RateLimiting;
using Microsoft.Extensions.Configuration;

namespace LbProxy.Tests.RateLimiting;

/// <summary>Each mistake in LbProxy:RateLimits is refused at its own key, and good policies read as written.</summary>
public sealed class RateLimitsOptionsTests
{
    [Fact]
    public void Read_GoodPolicies_HaveTheirFiguresAndDefaults()
    {
        var (policies, errors) = Read(new()
        {
            ["api:Kind"] = "TokenBucket", ["api:TokenLimit"] = "10", ["api:TokensPerPeriod"] = "5", ["api:PartitionBy"] = "Header:X-Api-Key",
            ["all:Kind"] = "concurrency", ["all:PermitLimit"] = "3", ["all:QueueLimit"] = "2", ["all:PartitionBy"] = "None",
        });

        Assert.Empty(errors);
        Assert.Equal(new RateLimitPolicyOptions(RateLimitKind.TokenBucket, new PartitionBy(PartitionSource.Header, "X-Api-Key"), 10, 5, TimeSpan.FromSeconds(1), null, null, null, 0, 10_000), policies["API"]);
        Assert.Equal(new RateLimitPolicyOptions(RateLimitKind.Concurrency, new PartitionBy(PartitionSource.None, null), null, null, null, 3, null, null, 2, 10_000), policies["all"]);
    }

    [Theory]
    [InlineData("p:Kind=Leaky", "LbProxy:RateLimits:p:Kind", "Kind must be TokenBucket, FixedWindow, SlidingWindow or Concurrency, not 'Leaky'")]
    [InlineData("p:Kind=1", "LbProxy:RateLimits:p:Kind", "not '1'")]
    [InlineData("p:PermitLimit=3", "LbProxy:RateLimits:p", "has no Kind")]
    [InlineData("p:Kind=FixedWindow", "LbProxy:RateLimits:p:PermitLimit", "PermitLimit is required for FixedWindow")]
    [InlineData("p:Kind=FixedWindow;p:PermitLimit=2;p:TokenLimit=4", "LbProxy:RateLimits:p:TokenLimit", "TokenLimit is not a figure of FixedWindow (it is one of TokenBucket)")]
    [InlineData("p:Kind=FixedWindow;p:PermitLimit=2;p:Windw=00:00:01", "LbProxy:RateLimits:p:Windw", "unknown key Windw")]
    [InlineData("p:Kind=FixedWindow;p:PermitLimit=2;p:Window=00:00:00.010", "LbProxy:RateLimits:p:Window", "Window must be a time from 00:00:00.1000000")]
    [InlineData("p:Kind=SlidingWindow;p:PermitLimit=2;p:Window=00:00:01;p:SegmentsPerWindow=20", "LbProxy:RateLimits:p:SegmentsPerWindow", "Window / SegmentsPerWindow must be at least 100 ms")]
    [InlineData("p:Kind=Concurrency;p:PermitLimit=2;p:PartitionBy=Cookie", "LbProxy:RateLimits:p:PartitionBy", "PartitionBy must be ClientIp, Header:<name>, Route or None, not 'Cookie'")]
    [InlineData("p:Kind=Concurrency;p:PermitLimit=2;p:PartitionBy=Header:", "LbProxy:RateLimits:p:PartitionBy", "needs a header name")]
    [InlineData("p:Kind=Concurrency;p:PermitLimit=2;p:MaxPartitions=10", "LbProxy:RateLimits:p:MaxPartitions", "MaxPartitions must be a whole number from 128 to 1000000, not '10'")]
    [InlineData("Default:Kind=Concurrency;Default:PermitLimit=2", "LbProxy:RateLimits:Default", "reserved")]
    public void Read_AMistake_IsRefusedAtItsKey(string settings, string key, string message)
    {
        var values = settings.Split(';').Select(static s => s.Split('=', 2)).ToDictionary(static kv => kv[0], static kv => (string?)kv[1]);

        var (policies, errors) = Read(values);

        Assert.Empty(policies);
        var error = Assert.Single(errors);
        Assert.Equal(key, error.Key);
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }

    private static (Dictionary<string, RateLimitPolicyOptions> Policies, List<(string Key, string Message)> Errors) Read(Dictionary<string, string?> values)
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(values.Select(static kv => KeyValuePair.Create($"{RateLimitsOptions.SectionName}:{kv.Key}", kv.Value)))
            .Build();
        var policies = new Dictionary<string, RateLimitPolicyOptions>(StringComparer.OrdinalIgnoreCase);
        var errors = new List<(string, string)>();
        RateLimitsOptions.Read(configuration.GetSection(RateLimitsOptions.SectionName), policies, errors);
        return (policies, errors);
    }
}
