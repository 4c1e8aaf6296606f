using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.Json.Serialization;
using LbProxy.Control;
using Microsoft.AspNetCore.Routing;
using LbProxy.Tests.Infrastructure;

namespace LbProxy.Tests.Control;

/// <summary>
/// A stage of the test's own adds a control endpoint and a status section through the contract, with one
/// registration line each, and gets what the shipped ones get: the prefix in any spelling, the token rule by
/// default, routing's 405, its section in <c>/_lb/status</c>, and never a forward.
/// </summary>
public sealed class ControlEndpointContractTests
{
    private const string Token = "contract-token-0123456789";

    [Fact]
    public async Task AStageOfItsOwn_EndpointAndSection_ServedUnderThePrefixWithTheTokenRule()
    {
        await using var origins = await TestOrigins.StartAsync(1);
        await using var proxy = await TestProxy.StartAsync(
            TestConfig.CatchAll(origins.All),
            static services => services
                .AddControlEndpoints<EchoEndpoints>()
                .AddStatusSection<TimeProvider, EchoStatus>("echo", static _ => new EchoStatus("here", 3), EchoJsonContext.Default.EchoStatus),
            "--LbProxy:Control:Token", Token);

        using var withToken = await SendAsync(proxy, HttpMethod.Get, "/_lb/echo", Token);
        using var noToken = await proxy.Client.GetAsync("/_lb/echo");
        using var wrongMethod = await SendAsync(proxy, HttpMethod.Delete, "/_lb/echo", Token);
        using var open = await proxy.Client.GetAsync("/_lb/echo/open");
        var spelled = await RawHttp.GetAsync(proxy.Address, "/%5Flb//ECHO/open");
        using var status = await SendAsync(proxy, HttpMethod.Get, "/_lb/status", Token);
        using var json = JsonDocument.Parse(await status.Content.ReadAsStringAsync());

        Assert.Equal(HttpStatusCode.OK, withToken.StatusCode);
        Assert.Equal("echo", await withToken.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.Unauthorized, noToken.StatusCode);
        Assert.Equal(HttpStatusCode.MethodNotAllowed, wrongMethod.StatusCode);
        Assert.Equal(["GET"], wrongMethod.Content.Headers.Allow);
        Assert.Equal(HttpStatusCode.OK, open.StatusCode);
        Assert.Equal(200, spelled.StatusCode);
        Assert.Equal("no-store", open.Headers.CacheControl?.ToString());
        var echo = json.RootElement.GetProperty("echo");
        Assert.Equal("here", echo.GetProperty("where").GetString());
        Assert.Equal(3, echo.GetProperty("count").GetInt32());
        Assert.True(json.RootElement.TryGetProperty("clusters", out _));
        Assert.Equal(0, origins[0].RequestCount);
    }

    private static Task<HttpResponseMessage> SendAsync(TestProxy proxy, HttpMethod method, string path, string token)
    {
        var request = new HttpRequestMessage(method, path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return proxy.Client.SendAsync(request);
    }

    private sealed class EchoEndpoints : IControlEndpoints
    {
        public void Map(IEndpointRouteBuilder control)
        {
            control.MapGet("/echo", static context => context.Response.WriteAsync("echo"));
            control.MapGet("/echo/open", static context => context.Response.WriteAsync("open")).AllowAnyone();
        }
    }
}

internal sealed record EchoStatus(string Where, int Count);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(EchoStatus))]
internal sealed partial class EchoJsonContext : JsonSerializerContext;
