using System.Net;
using System.Net.Http.Json;
using LbProxy.SampleOrigin;
using LbProxy.Tests.Infrastructure;

namespace LbProxy.Tests.Functional;

public sealed class HeaderHygieneTests
{
    [Theory]
    [InlineData("image/avif,image/webp,*/*", "avif")]
    [InlineData("image/webp,*/*;q=0.8", "webp")]
    [InlineData("image/avif;q=0,image/webp", "webp")]
    [InlineData("*/*", "original")]
    public async Task Accept_IsSentUpstreamAsOneFormatClass(string accept, string expected)
    {
        await using var setup = await StartAsync();

        var echo = await EchoAsync(setup.Proxy, request =>
        {
            request.Headers.TryAddWithoutValidation("Accept", accept);
            request.Headers.TryAddWithoutValidation(ImageFormats.FormatHeader, "forged");
        });

        Assert.Equal(expected, echo.Headers[ImageFormats.FormatHeader]);
    }

    [Fact]
    public async Task ImageResponse_OfNegotiatingRoute_CarriesVaryAcceptAndTheNegotiatedFormat()
    {
        await using var setup = await StartAsync();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/images/cat.jpg");
        request.Headers.TryAddWithoutValidation("Accept", "image/avif,image/webp,*/*");

        using var response = await setup.Proxy.Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("image/avif", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("Accept", response.Headers.Vary);
        var scrape = await MetricsScrape.TakeAsync(setup.Proxy.Client);
        Assert.Equal(1, scrape.Sum("lbproxy_image_requests_total", ("format", "avif")));
    }

    [Fact]
    public async Task RouteWithNegotiationOff_SendsNoFormatAndAddsNoVary()
    {
        await using var origins = await TestOrigins.StartAsync(1);
        var config = System.Text.Json.Nodes.JsonNode.Parse(new TestConfig()
            .Route("images", "images", "/images/{**path}")
            .Cluster("images", origins.All)
            .ToJson())!;
        config["ReverseProxy"]!["Routes"]!["images"]!["Metadata"] = new System.Text.Json.Nodes.JsonObject { ["Images.Negotiate"] = "false" };
        await using var proxy = await TestProxy.StartAsync(config.ToJsonString());
        using var request = new HttpRequestMessage(HttpMethod.Get, "/images/cat.jpg");
        request.Headers.TryAddWithoutValidation("Accept", "image/avif");

        using var response = await proxy.Client.SendAsync(request);

        Assert.Equal("image/jpeg", response.Content.Headers.ContentType?.MediaType);
        Assert.Empty(response.Headers.Vary);
    }

    [Fact]
    public async Task HeaderNamedInConnection_NeverReachesTheOrigin()
    {
        await using var setup = await StartAsync();

        var echo = await EchoAsync(setup.Proxy, request =>
        {
            request.Headers.Connection.Add("X-Secret-Hop");
            request.Headers.TryAddWithoutValidation("X-Secret-Hop", "must not pass");
            request.Headers.TryAddWithoutValidation("X-Kept", "passes");
        });

        Assert.False(echo.Headers.ContainsKey("X-Secret-Hop"));
        Assert.Equal("passes", echo.Headers["X-Kept"]);
    }

    [Fact]
    public async Task ForgedForwardedHeaders_FromAnUntrustedClient_AreReplaced()
    {
        await using var setup = await StartAsync();

        var echo = await EchoAsync(setup.Proxy, request =>
        {
            request.Headers.TryAddWithoutValidation("X-Forwarded-For", "6.6.6.6");
            request.Headers.TryAddWithoutValidation("X-Forwarded-Host", "evil.example");
            request.Headers.TryAddWithoutValidation("X-Forwarded-Proto", "https");
            request.Headers.TryAddWithoutValidation("Forwarded", "for=6.6.6.6");
        });

        Assert.Equal("127.0.0.1", echo.Headers["X-Forwarded-For"]);
        Assert.Equal(setup.Proxy.Address.Authority, echo.Headers["X-Forwarded-Host"]);
        Assert.Equal("http", echo.Headers["X-Forwarded-Proto"]);
        Assert.False(echo.Headers.ContainsKey("Forwarded"));
    }

    [Fact]
    public async Task ForwardedHeaders_FromATrustedProxy_AreExtended()
    {
        await using var setup = await StartAsync("--LbProxy:Headers:TrustedProxies:0", "127.0.0.0/8");

        var echo = await EchoAsync(setup.Proxy, request =>
        {
            request.Headers.TryAddWithoutValidation("X-Forwarded-For", "203.0.113.7");
            request.Headers.TryAddWithoutValidation("X-Forwarded-Proto", "https");
            request.Headers.TryAddWithoutValidation(RequestIdHeader, "edge-abc-123");
        });

        Assert.Equal("203.0.113.7, 127.0.0.1", echo.Headers["X-Forwarded-For"]);
        Assert.Equal("https", echo.Headers["X-Forwarded-Proto"]);
        Assert.Equal("edge-abc-123", echo.Headers[RequestIdHeader]);
    }

    [Fact]
    public async Task RequestId_ReachesTheOriginAndComesBack_AndAnUntrustedOneIsReplaced()
    {
        await using var setup = await StartAsync();
        string? returned = null;

        var echo = await EchoAsync(setup.Proxy, request => request.Headers.TryAddWithoutValidation(RequestIdHeader, "client-chosen"),
            response => returned = response.Headers.GetValues(RequestIdHeader).Single());

        Assert.NotEqual("client-chosen", returned);
        Assert.Matches("^[0-9a-f]{32}$", returned);
        Assert.Equal(returned, echo.Headers[RequestIdHeader]);
    }

    [Fact]
    public async Task AccessLog_ShowsTheFormatClassAndTheRequestId()
    {
        await using var setup = await StartAsync("--LbProxy:AccessLog:Template", "{format} {request_id} {url}");
        using var request = new HttpRequestMessage(HttpMethod.Get, "/images/cat.jpg");
        request.Headers.TryAddWithoutValidation("Accept", "image/webp,*/*");

        using var response = await setup.Proxy.Client.SendAsync(request);
        var lines = await setup.Proxy.AccessLog.WaitForAsync(1);

        var id = response.Headers.GetValues(RequestIdHeader).Single();
        Assert.Equal($"webp {id} /images/cat.jpg", lines.Single());
    }

    [Fact]
    public async Task RequestId_IsOnControlAnswersToo()
    {
        await using var setup = await StartAsync();

        using var response = await setup.Proxy.Client.GetAsync("/_lb/healthz");

        Assert.Single(response.Headers.GetValues(RequestIdHeader));
    }

    private const string RequestIdHeader = "X-Request-Id";

    private static async Task<EchoResponse> EchoAsync(TestProxy proxy, Action<HttpRequestMessage> configure, Action<HttpResponseMessage>? inspect = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/echo/headers");
        configure(request);
        using var response = await proxy.Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        inspect?.Invoke(response);
        var echo = (await response.Content.ReadFromJsonAsync<EchoResponse>())!;
        return echo with { Headers = new Dictionary<string, string>(echo.Headers, StringComparer.OrdinalIgnoreCase) };
    }

    private static async Task<Setup> StartAsync(params string[] extraArgs)
    {
        var origins = await TestOrigins.StartAsync(1);
        var proxy = await TestProxy.StartAsync(new TestConfig()
            .Route("images", "images", "/images/{**path}")
            .Route("echo", "images", "/echo/{**path}")
            .Cluster("images", origins.All)
            .ToJson(), extraArgs);
        return new Setup(origins, proxy);
    }

    private sealed record Setup(TestOrigins Origins, TestProxy Proxy) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await Proxy.DisposeAsync();
            await Origins.DisposeAsync();
        }
    }
}
