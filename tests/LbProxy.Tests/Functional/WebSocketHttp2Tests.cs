using System.Net;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json.Nodes;
using LbProxy.Tests.Infrastructure;

namespace LbProxy.Tests.Functional;

/// <summary>
/// WebSockets over HTTP/2 (extended CONNECT, RFC 8441) from a real <see cref="ClientWebSocket"/> that speaks HTTP/2
/// only, over real TLS, to a real WebSocket origin that YARP reaches with an HTTP/1.1 upgrade: a route with
/// <c>"WebSockets.Enabled": "true"</c> echoes through; any other route answers 501 (RFC 9220 §3, the same semantics as
/// RFC 8441: a protocol the server does not support there) and forwards nothing.
/// </summary>
public sealed class WebSocketHttp2Tests : IAsyncLifetime, IDisposable
{
    private const string Host = "a.test";

    private readonly TestCertificates _certificates = new();
    private readonly TlsLayout _layout;
    private WebSocketOrigin _origin = null!;
    private TestProxy _proxy = null!;

    public WebSocketHttp2Tests() => _layout = new TlsLayout(_certificates);

    public async Task InitializeAsync()
    {
        await _layout.AddAsync(Host);
        _origin = await WebSocketOrigin.StartAsync();
        var config = JsonNode.Parse(new TestConfig()
            .Route("live", "origin", "/live/{**path}")
            .Route("images", "origin", "/images/{**path}")
            .Cluster("origin", [("origin", _origin.Address)])
            .ToJson())!.AsObject();
        config["ReverseProxy"]!["Routes"]!["live"]!["Metadata"] = new JsonObject { ["WebSockets.Enabled"] = "true" };
        config["Kestrel"] = _layout.Kestrel(Host);
        var path = Path.Combine(_layout.Directory.FullName, "yarp.json");
        await File.WriteAllTextAsync(path, config.ToJsonString());
        _proxy = await TestProxy.StartWithFileAsync(path);
    }

    public async Task DisposeAsync()
    {
        await _proxy.DisposeAsync();
        await _origin.DisposeAsync();
    }

    public void Dispose()
    {
        _layout.Dispose();
        _certificates.Dispose();
    }

    [Fact]
    public async Task OptedInRoute_ExtendedConnectOverHttp2_EchoesThroughTheOrigin()
    {
        using var invoker = new HttpMessageInvoker(TlsProbe.Handler(_certificates.Ca));
        using var socket = Http2Only();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));

        await socket.ConnectAsync(Address("/live/feed"), invoker, timeout.Token);
        await socket.SendAsync("hello over h2"u8.ToArray(), WebSocketMessageType.Text, endOfMessage: true, timeout.Token);
        var buffer = new byte[64];
        var received = await socket.ReceiveAsync(buffer, timeout.Token);

        Assert.Equal(HttpStatusCode.OK, socket.HttpStatusCode); // RFC 8441: a 200 to the CONNECT, not a 101
        Assert.Equal("hello over h2", Encoding.UTF8.GetString(buffer, 0, received.Count));
        // Upstream it went as the HTTP/1.1 upgrade the origin knows.
        Assert.Equal("websocket", Assert.Single(_origin.UpgradeHeaders), ignoreCase: true);
        await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, null, timeout.Token);
        Assert.Equal(WebSocketState.Closed, socket.State);
    }

    [Fact]
    public async Task OtherRoute_ExtendedConnectOverHttp2_Is501_NothingForwarded()
    {
        using var invoker = new HttpMessageInvoker(TlsProbe.Handler(_certificates.Ca));
        using var socket = Http2Only();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));

        await Assert.ThrowsAsync<WebSocketException>(() => socket.ConnectAsync(Address("/images/feed"), invoker, timeout.Token));

        Assert.Equal(HttpStatusCode.NotImplemented, socket.HttpStatusCode);
        Assert.Empty(_origin.UpgradeHeaders);
    }

    [Fact]
    public async Task OtherRoute_TheSameConnectionStillServesPlainRequests()
    {
        // The refusal is the stream's, not the connection's: a plain GET on the same HTTP/2 connection is answered.
        var handler = TlsProbe.Handler(_certificates.Ca);
        using var invoker = new HttpMessageInvoker(handler, disposeHandler: false);
        using var client = new HttpClient(handler) { BaseAddress = new Uri($"https://{Host}:{_layout.HttpsPort}/"), DefaultRequestVersion = HttpVersion.Version20, DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact };
        using var socket = Http2Only();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));

        await Assert.ThrowsAsync<WebSocketException>(() => socket.ConnectAsync(Address("/images/feed"), invoker, timeout.Token));
        using var plain = await client.GetAsync("/images/a.jpg", timeout.Token);

        Assert.Equal(HttpStatusCode.OK, plain.StatusCode);
        Assert.Equal(HttpVersion.Version20, plain.Version);
        Assert.Equal("plain", await plain.Content.ReadAsStringAsync(timeout.Token));
    }

    private static ClientWebSocket Http2Only()
    {
        var socket = new ClientWebSocket();
        socket.Options.HttpVersion = HttpVersion.Version20;
        socket.Options.HttpVersionPolicy = HttpVersionPolicy.RequestVersionExact;
        socket.Options.CollectHttpResponseDetails = true;
        return socket;
    }

    private Uri Address(string path) => new($"wss://{Host}:{_layout.HttpsPort}{path}");
}
