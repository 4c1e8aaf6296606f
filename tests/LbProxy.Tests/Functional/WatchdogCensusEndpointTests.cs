using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using LbProxy.Tests.Infrastructure;

namespace LbProxy.Tests.Functional;

/// <summary>
/// <c>GET /_lb/runtime/timers</c> through a real proxy: the token is required, a bad <c>top</c> is a 400, and the
/// answer holds the census of this process's timers (the sampler's own among them) within the asked bound.
/// </summary>
public sealed class WatchdogCensusEndpointTests
{
    private const string Token = "census-token-0123456789";

    [Fact]
    public async Task RuntimeTimers_WithToken_CountsTimersByOwnerWithinTop()
    {
        await using var origins = await TestOrigins.StartAsync(1);
        await using var proxy = await TestProxy.StartAsync(TestConfig.CatchAll(origins.All), "--LbProxy:Control:Token", Token);

        using var response = await SendAsync(proxy, "/_lb/runtime/timers?top=3", Token);
        var text = await response.Content.ReadAsStringAsync();
        using var json = JsonDocument.Parse(text);
        var timers = json.RootElement.GetProperty("timers");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.True(timers.GetProperty("available").GetBoolean(), text);
        Assert.InRange(timers.GetProperty("walked").GetInt64(), 1, 100_000);
        var owners = timers.GetProperty("owners").EnumerateArray().ToList();
        Assert.InRange(owners.Count, 1, 3);
        Assert.All(owners, o => Assert.InRange(o.GetProperty("count").GetInt64(), 1, 100_000));
        Assert.True(json.RootElement.GetProperty("threadPoolQueue").GetProperty("available").GetBoolean(), text);

        // The whole census names the sampler's one timer, by the method that created its callback.
        using var all = await SendAsync(proxy, "/_lb/runtime/timers?top=1000", Token);
        Assert.Contains("\"owner\": \"RuntimeSampler.", await all.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("top=0")]
    [InlineData("top=1001")]
    [InlineData("top=abc")]
    [InlineData("top=-1")]
    public async Task RuntimeTimers_BadTop_Is400(string query)
    {
        await using var origins = await TestOrigins.StartAsync(1);
        await using var proxy = await TestProxy.StartAsync(TestConfig.CatchAll(origins.All), "--LbProxy:Control:Token", Token);

        using var response = await SendAsync(proxy, "/_lb/runtime/timers?" + query, Token);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
    }

    [Fact]
    public async Task RuntimeTimers_WrongToken_IsRefused()
    {
        await using var origins = await TestOrigins.StartAsync(1);
        await using var proxy = await TestProxy.StartAsync(TestConfig.CatchAll(origins.All), "--LbProxy:Control:Token", Token);

        using var response = await SendAsync(proxy, "/_lb/runtime/timers", "wrong-token");

        Assert.InRange((int)response.StatusCode, 401, 403);
    }

    private static async Task<HttpResponseMessage> SendAsync(TestProxy proxy, string path, string token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return await proxy.Client.SendAsync(request);
    }
}
