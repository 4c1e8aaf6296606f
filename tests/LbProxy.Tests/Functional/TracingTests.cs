using System.Net;
using System.Net.Http.Json;
using LbProxy.SampleOrigin;
using LbProxy.Tests.Infrastructure;

namespace LbProxy.Tests.Functional;

/// <summary>
/// With no tracing configured, a request costs no Activity: none is started for it, so none is propagated upstream
/// either. A client's own trace context passes through untouched, as any other end-to-end header does.
/// </summary>
public sealed class TracingTests
{
    [Fact]
    public async Task Forward_WithNoTracingConfigured_SendsNoTraceContextUpstream()
    {
        await using var origins = await TestOrigins.StartAsync(1);
        await using var proxy = await StartProxyAsync(origins);

        var headers = await EchoHeadersAsync(proxy, static _ => { });

        Assert.False(headers.ContainsKey("traceparent"), "traceparent: " + headers.GetValueOrDefault("traceparent"));
        Assert.False(headers.ContainsKey("Request-Id"));
    }

    [Fact]
    public async Task Forward_ClientTraceparent_ReachesTheOriginUnchanged()
    {
        const string traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
        await using var origins = await TestOrigins.StartAsync(1);
        await using var proxy = await StartProxyAsync(origins);

        var headers = await EchoHeadersAsync(proxy, request => request.Headers.TryAddWithoutValidation("traceparent", traceparent));

        Assert.Equal(traceparent, headers["traceparent"]);
    }

    private static Task<TestProxy> StartProxyAsync(TestOrigins origins) =>
        TestProxy.StartAsync(new TestConfig()
            .Route("echo", "images", "/echo/{**path}")
            .Cluster("images", origins.All)
            .ToJson());

    private static async Task<Dictionary<string, string>> EchoHeadersAsync(TestProxy proxy, Action<HttpRequestMessage> configure)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/echo/headers");
        configure(request);
        using var response = await proxy.Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var echo = (await response.Content.ReadFromJsonAsync<EchoResponse>())!;
        return new Dictionary<string, string>(echo.Headers, StringComparer.OrdinalIgnoreCase);
    }
}
