using System.Text.Json;
using LbProxy.SampleOrigin;
using LbProxy.Tests.Infrastructure;

namespace LbProxy.Tests.Functional;

/// <summary>
/// Headers a <c>Connection</c> header names are hop-by-hop (RFC 9110 §7.6.1): through real sockets, in every
/// spelling a client or an origin can send, they go no further; the content headers, which describe the body end to
/// end, stay.
/// </summary>
public sealed class ConnectionHeaderTests : IAsyncLifetime
{
    private static readonly JsonSerializerOptions Web = new(JsonSerializerDefaults.Web);

    private readonly CatchAllProxy _setup = new();

    /// <summary>Header lines naming a header, and the header they name, sent after them with the value <c>leak</c>.</summary>
    public static TheoryData<string, string, string> RequestSpellings() => new()
    {
        { "lone token", "Connection: X-Secret", "X-Secret" },
        { "after keep-alive", "Connection: keep-alive, X-Secret", "X-Secret" },
        { "before keep-alive", "Connection: X-Secret, keep-alive", "X-Secret" },
        { "after close", "Connection: close, X-Secret", "X-Secret" },
        { "after upgrade", "Connection: Upgrade, X-Secret", "X-Secret" },
        { "no space", "Connection: keep-alive,X-Secret", "X-Secret" },
        { "odd whitespace", "Connection:  keep-alive ,\t X-Secret \t", "X-Secret" },
        { "empty elements", "Connection: , ,keep-alive,,X-Secret,", "X-Secret" },
        { "among several", "Connection: X-One, keep-alive, X-Secret, X-Two", "X-Secret" },
        { "two Connection headers", "Connection: keep-alive\r\nConnection: X-Secret", "X-Secret" },
        { "two headers, token first", "Connection: X-Secret\r\nConnection: keep-alive", "X-Secret" },
        { "three headers", "Connection: keep-alive\r\nConnection: X-One\r\nConnection: X-Secret", "X-Secret" },
        { "lower case", "connection: keep-alive, x-secret", "X-Secret" },
        { "upper case", "CONNECTION: KEEP-ALIVE, X-SECRET", "X-Secret" },
        { "mixed case", "cOnNeCtIoN: Keep-Alive, x-SeCrEt", "X-Secret" },
        { "standard: Cookie", "Connection: keep-alive, Cookie", "Cookie" },
        { "standard: Authorization", "Connection: keep-alive, Authorization", "Authorization" },
        { "standard: User-Agent", "Connection: keep-alive, User-Agent", "User-Agent" },
        { "standard: Referer", "Connection: keep-alive, Referer", "Referer" },
        { "standard: If-None-Match", "Connection: keep-alive, If-None-Match", "If-None-Match" },
        { "standard: Accept-Language", "Connection: keep-alive, Accept-Language", "Accept-Language" },
        { "standard: Cache-Control", "Connection: close, Cache-Control", "Cache-Control" },
        { "standard: Keep-Alive", "Connection: keep-alive, Keep-Alive", "Keep-Alive" },
    };

    /// <summary>Header lines of an origin's response naming a header, and the header they name.</summary>
    public static TheoryData<string, string, string> ResponseSpellings() => new()
    {
        { "lone token", "Connection: X-Secret", "X-Secret" },
        { "after keep-alive", "Connection: keep-alive, X-Secret", "X-Secret" },
        { "after close", "Connection: close, X-Secret", "X-Secret" },
        { "two Connection headers", "Connection: close\r\nConnection: X-Secret", "X-Secret" },
        { "odd whitespace and case", "connection:\t, KEEP-ALIVE ,x-secret\t", "X-Secret" },
        { "standard: Set-Cookie", "Connection: keep-alive, Set-Cookie", "Set-Cookie" },
        { "standard: ETag", "Connection: keep-alive, ETag", "ETag" },
    };

    public Task InitializeAsync() => _setup.StartAsync();

    public Task DisposeAsync() => _setup.DisposeAsync();

    [Theory]
    [MemberData(nameof(RequestSpellings))]
    public async Task Request_HeaderNamedInConnection_NeverReachesTheOrigin(string spelling, string lines, string named)
    {
        var response = await RawHttp.SendAsync(_setup.Proxy.Address,
            $"GET /echo/headers HTTP/1.1\r\nHost: x\r\n{lines}\r\n{named}: leak\r\nX-Kept: passes\r\n\r\n");

        Assert.True(response.StatusCode == 200, $"{spelling}: status {response.StatusCode}");
        var echo = Echo(response);
        Assert.False(echo.Headers.ContainsKey(named), $"{spelling}: the origin received {named}: {echo.Headers.GetValueOrDefault(named)}");
        Assert.Equal("passes", echo.Headers["X-Kept"]);
    }

    [Fact]
    public async Task Request_ConnectionNamingForwardingHeaders_CannotRemoveWhatTheProxySets()
    {
        var response = await RawHttp.SendAsync(_setup.Proxy.Address,
            "GET /echo/headers HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, X-Forwarded-For, X-Request-Id\r\n\r\n");

        var echo = Echo(response);
        Assert.Equal("127.0.0.1", echo.Headers["X-Forwarded-For"]);
        Assert.True(echo.Headers.ContainsKey("X-Request-Id"));
    }

    [Fact]
    public async Task Request_ConnectionNamingContentHeaders_KeepsTheBodyWhole()
    {
        var response = await RawHttp.SendAsync(_setup.Proxy.Address,
            "POST /echo/form HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, Content-Type, Content-Length\r\n"
            + "Content-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello");

        var echo = Echo(response);
        Assert.Equal("hello", echo.Body);
        Assert.Equal("text/plain", echo.Headers["Content-Type"]);
        Assert.Equal("5", echo.Headers["Content-Length"]);
    }

    [Theory]
    [MemberData(nameof(ResponseSpellings))]
    public async Task Response_HeaderNamedInConnection_NeverReachesTheClient(string spelling, string lines, string named)
    {
        await using var origin = RawOrigin.Start(
            $"HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\nContent-Length: 3\r\n{lines}\r\n{named}: leak\r\nX-Kept: passes\r\n\r\nabc");
        await using var proxy = await TestProxy.StartAsync(new TestConfig()
            .Route("everything", "raw", "/{**path}")
            .Cluster("raw", [("raw", origin.Address)])
            .ToJson());

        var response = await RawHttp.SendAsync(proxy.Address, "GET /a.jpg HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");

        Assert.True(response.StatusCode == 200, $"{spelling}: status {response.StatusCode}");
        Assert.False(response.HasHeader(named), $"{spelling}: the client received {named}:\n{response.Headers}");
        Assert.True(response.HasHeader("X-Kept"), response.Headers);
        Assert.Equal("abc", response.Body);
    }

    [Theory]
    [InlineData("Content-Type")]
    [InlineData("Content-Length")]
    [InlineData("Content-Type, Content-Length, Content-Encoding")]
    public async Task Response_ConnectionNamingContentHeaders_LeavesThemToTheClient(string named)
    {
        // Content headers describe the body end to end: naming one in Connection is the origin's error, and obeying it
        // would hand the client bytes it cannot read (an image without its type, gzip without its coding).
        await using var origin = RawOrigin.Start(
            $"HTTP/1.1 200 OK\r\nConnection: keep-alive, {named}\r\nContent-Type: image/jpeg\r\nContent-Encoding: identity\r\nContent-Length: 3\r\n\r\nabc");
        await using var proxy = await TestProxy.StartAsync(new TestConfig()
            .Route("everything", "raw", "/{**path}")
            .Cluster("raw", [("raw", origin.Address)])
            .ToJson());

        var response = await RawHttp.SendAsync(proxy.Address, "GET /a.jpg HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");

        Assert.Equal(200, response.StatusCode);
        Assert.True(response.HasHeader("Content-Type"), response.Headers);
        Assert.True(response.HasHeader("Content-Encoding"), response.Headers);
        Assert.Equal("abc", response.Body);
    }

    private static EchoResponse Echo(RawResponse response)
    {
        Assert.True(response.StatusCode == 200, $"status {response.StatusCode}: {response.Body}");
        var echo = JsonSerializer.Deserialize<EchoResponse>(response.Body, Web)!;
        return echo with { Headers = new Dictionary<string, string>(echo.Headers, StringComparer.OrdinalIgnoreCase) };
    }
}
