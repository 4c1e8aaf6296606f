using LbProxy.Tests.Infrastructure;

namespace LbProxy.Tests.Functional;

/// <summary>
/// The access-log filter skips /metrics in any spelling; so no spelling of /metrics may be forwarded, or a
/// proxied request would go unlogged.
/// </summary>
public sealed class MetricsSpellingTests
{
    [Theory]
    [InlineData("/metrics")]
    [InlineData("//metrics")]
    [InlineData("/METRICS")]
    [InlineData("/metrics/")]
    [InlineData("/x/../metrics")]
    [InlineData("/%6Detrics")]
    public async Task Get_AnySpellingOfMetrics_IsTheScrapeNeverAProxiedRequest(string path)
    {
        await using var origins = await TestOrigins.StartAsync(1);
        await using var proxy = await TestProxy.StartAsync(new TestConfig()
            .Route("everything", "images", "/{**path}")
            .Cluster("images", origins.All)
            .ToJson());

        var response = await RawHttp.GetAsync(proxy.Address, path);

        Assert.Equal(200, response.StatusCode);
        Assert.Contains("# TYPE", response.Body);
        Assert.Equal(0, origins[0].RequestCount);
        Assert.Empty(proxy.AccessLog.Lines);
    }
}
