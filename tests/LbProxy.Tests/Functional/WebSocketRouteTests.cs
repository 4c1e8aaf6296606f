using System.Net.WebSockets;
using System.Text;
using System.Text.Json.Nodes;
using LbProxy.Tests.Infrastructure;

namespace LbProxy.Tests.Functional;

/// <summary>
/// WebSocket upgrades through the proxy to a real WebSocket origin, with a real <see cref="ClientWebSocket"/>: only a
/// route whose metadata says <c>"WebSockets.Enabled": "true"</c> upgrades; on any other route the request goes up as the
/// plain GET it also is, without <c>Upgrade</c>, as nginx forwards it without <c>proxy_set_header Upgrade</c>.
/// </summary>
public sealed class WebSocketRouteTests : IAsyncLifetime
{
    private WebSocketOrigin _origin = null!;
    private TestProxy _proxy = null!;

    public async Task InitializeAsync()
    {
        _origin = await WebSocketOrigin.StartAsync();
        var config = JsonNode.Parse(new TestConfig()
            .Route("live", "origin", "/live/{**path}")
            .Route("images", "origin", "/images/{**path}")
            .Cluster("origin", [("origin", _origin.Address)])
            .ToJson())!;
        config["ReverseProxy"]!["Routes"]!["live"]!["Metadata"] = new JsonObject { ["WebSockets.Enabled"] = "true" };
        _proxy = await TestProxy.StartAsync(config.ToJsonString());
    }

    public async Task DisposeAsync()
    {
        await _proxy.DisposeAsync();
        await _origin.DisposeAsync();
    }

    [Fact]
    public async Task OptedInRoute_Upgrades_AndEchoes()
    {
        using var socket = new ClientWebSocket();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await socket.ConnectAsync(WebSocketAddress("/live/feed"), timeout.Token);

        await socket.SendAsync("hello"u8.ToArray(), WebSocketMessageType.Text, endOfMessage: true, timeout.Token);
        var buffer = new byte[64];
        var received = await socket.ReceiveAsync(buffer, timeout.Token);

        Assert.Equal("hello", Encoding.UTF8.GetString(buffer, 0, received.Count));
        Assert.Equal("websocket", Assert.Single(_origin.UpgradeHeaders), ignoreCase: true);
        await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, null, timeout.Token);
    }

    [Fact]
    public async Task OtherRoute_DoesNotUpgrade_AndTheOriginSeesNoUpgradeHeader()
    {
        using var socket = new ClientWebSocket();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));

        var refused = await Assert.ThrowsAsync<WebSocketException>(() => socket.ConnectAsync(WebSocketAddress("/images/feed"), timeout.Token));

        Assert.Contains("200", refused.Message, StringComparison.Ordinal); // the origin's plain answer, not a 101
        Assert.Equal("", Assert.Single(_origin.UpgradeHeaders));
    }

    [Fact]
    public async Task OtherRoute_UpgradeRequest_GetsThePlainAnswer_OnAConnectionThatStaysUsable()
    {
        // What curl --http2 sends on plain HTTP, or a WebSocket handshake: the answer is the route's, and the same
        // connection serves the next request.
        var handshake = "GET /images/a.jpg HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
            + "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
            + "GET /images/b.jpg HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";

        // Both answers read, to the close the second asks for: closing after the first could abort the second.
        var exchange = await RawHttp.ExchangeUntilClosedAsync(_proxy.Address, handshake);

        Assert.StartsWith("HTTP/1.1 200 ", exchange, StringComparison.Ordinal);
        Assert.Equal(2, exchange.Split("HTTP/1.1 200 ").Length - 1);
        Assert.Equal(2, exchange.Split("\r\n5\r\nplain\r\n0\r\n\r\n").Length - 1); // each answer the route's plain body, chunked
        Assert.Equal(2, _origin.UpgradeHeaders.Count);
        Assert.All(_origin.UpgradeHeaders, upgrade => Assert.Equal("", upgrade));
    }

    [Fact]
    public async Task MetadataNeitherTrueNorFalse_IsRefusedByTheConfigCheck()
    {
        // The check validate and every reload run: "yes" would otherwise silently mean no upgrades.
        var config = JsonNode.Parse(new TestConfig()
            .Route("live", "origin", "/live/{**path}")
            .Cluster("origin", [("origin", _origin.Address)])
            .ToJson())!;
        config["ReverseProxy"]!["Routes"]!["live"]!["Metadata"] = new JsonObject { ["WebSockets.Enabled"] = "yes" };

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => TestProxy.StartAsync(config.ToJsonString()));

        Assert.Contains("ReverseProxy:Routes:live:Metadata:WebSockets.Enabled", error.Message, StringComparison.Ordinal);
        Assert.Contains("'yes' is not true or false", error.Message, StringComparison.Ordinal);
    }

    private Uri WebSocketAddress(string path) => new($"ws://{_proxy.Address.Authority}{path}");
}
