using System.Text.Json.Nodes;
using LbProxy.Tests.Infrastructure;

namespace LbProxy.Tests.Functional;

/// <summary>
/// <c>content-length</c> in an HTTP/2 request from a raw client over real TLS: digits only, as over HTTP/1.1. Kestrel
/// parses the field itself and took a sign (<c>+5</c> read as 5); such a request is refused and never reaches the origin.
/// </summary>
public sealed class Http2ContentLengthTests : IAsyncLifetime, IDisposable
{
    private const string Host = "a.test";
    private const uint ProtocolError = 0x1;

    private readonly TlsSetup _setup = new();
    private TestProxy _proxy = null!;

    public async Task InitializeAsync()
    {
        await _setup.StartAsync();
        await _setup.Layout.AddAsync(Host);
        var config = JsonNode.Parse(TestConfig.CatchAll(_setup.Origins.All))!.AsObject();
        config["Kestrel"] = _setup.Layout.Kestrel(Host);
        var path = Path.Combine(_setup.Layout.Directory.FullName, "yarp.json");
        await File.WriteAllTextAsync(path, config.ToJsonString());
        _proxy = await TestProxy.StartWithFileAsync(path);
    }

    public async Task DisposeAsync()
    {
        await _proxy.DisposeAsync();
        await _setup.DisposeAsync();
    }

    public void Dispose() => _setup.Dispose();

    [Theory]
    [InlineData("+5")]
    [InlineData("-0")]
    [InlineData("0x5")]
    [InlineData("5, 5")]
    public async Task SignedOrNonDigitLength_IsRefused_AndNeverReachesTheOrigin(string length)
    {
        await using var client = await RawHttp2Client.ConnectAsync(_setup.Layout.HttpsPort, Host);
        var stream = await PostAsync(client, length);

        await Poll.UntilAsync(() => Answered(client, stream), TimeSpan.FromSeconds(10), "an answer to the stream");
        // Kestrel refuses a malformed field as a protocol error: the stream is reset or the connection goes away.
        var refusals = client.Received(Http2FrameType.RstStream).Concat(client.Received(Http2FrameType.GoAway));
        Assert.Contains(refusals, frame => frame.ErrorCode == ProtocolError);
        Assert.DoesNotContain(client.Received(Http2FrameType.Headers), frame => frame.StreamId == stream);
        Assert.Equal(0, _setup.Origins[0].RequestCount);
    }

    [Fact]
    public async Task DigitsOnlyLength_IsForwarded()
    {
        // The control: the same frames with a plain length get the origin's answer, so the refusals above are real.
        await using var client = await RawHttp2Client.ConnectAsync(_setup.Layout.HttpsPort, Host);
        var stream = await PostAsync(client, "5");

        await Poll.UntilAsync(() => Answered(client, stream), TimeSpan.FromSeconds(10), "an answer to the stream");
        Assert.Contains(client.Received(Http2FrameType.Headers), frame => frame.StreamId == stream);
        Assert.Equal(1, _setup.Origins[0].RequestCount);
    }

    /// <summary>A POST of five bytes to the echo path, its length field spelled <paramref name="length"/>.</summary>
    private static async Task<int> PostAsync(RawHttp2Client client, string length)
    {
        var stream = client.NextStreamId();
        var headers = MinimalHpack.Encode((":method", "POST"), (":scheme", "https"), (":authority", Host), (":path", "/echo/a"),
            ("content-length", length));
        await client.WriteFrameAsync(Http2FrameType.Headers, Http2Frame.EndHeaders, stream, headers);
        await client.WriteFrameAsync(Http2FrameType.Data, Http2Frame.EndStream, stream, "abcde"u8.ToArray());
        return stream;
    }

    private static bool Answered(RawHttp2Client client, int stream) =>
        client.IsClosed
        || client.Received(Http2FrameType.GoAway).Count > 0
        || client.Received(Http2FrameType.RstStream).Any(frame => frame.StreamId == stream)
        || client.Received(Http2FrameType.Headers).Any(frame => frame.StreamId == stream);
}
