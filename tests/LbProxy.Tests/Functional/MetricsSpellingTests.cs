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
    [InlineData("//METRICS/")]
    public async Task Get_AnySpellingOfMetrics_IsTheScrapeNeverAProxiedRequest(string path)
    {
        await using var origins = await TestOrigins.StartAsync(1);
        await using var proxy = await TestProxy.StartAsync(TestConfig.CatchAll(origins.All));

        var response = await RawHttp.GetAsync(proxy.Address, path);

        Assert.Equal(200, response.StatusCode);
        Assert.Contains("# TYPE", response.Body);
        Assert.Equal(0, origins[0].RequestCount);
        Assert.Empty(proxy.AccessLog.Lines);
    }

    [Theory]
    [InlineData("/metrics")]
    [InlineData("//METRICS/")]
    public async Task Get_Metrics_WhenTheTokenIsRequired_Is401WithoutItAndTheScrapeWithIt(string path)
    {
        await using var origins = await TestOrigins.StartAsync(1);
        await using var proxy = await TestProxy.StartAsync(TestConfig.CatchAll(origins.All), "--LbProxy:Control:MetricsRequireToken", "true", "--LbProxy:Control:Token", "s3cret");

        var without = await RawHttp.GetAsync(proxy.Address, path);
        var wrong = await RawHttp.GetAsync(proxy.Address, path, "Bearer nope");
        var with = await RawHttp.GetAsync(proxy.Address, path, "Bearer s3cret");

        Assert.Equal(401, without.StatusCode);
        Assert.Equal(401, wrong.StatusCode);
        Assert.DoesNotContain("# TYPE", without.Body);
        Assert.Equal(200, with.StatusCode);
        Assert.Contains("# TYPE", with.Body);
        Assert.Equal(0, origins[0].RequestCount);
    }
}
