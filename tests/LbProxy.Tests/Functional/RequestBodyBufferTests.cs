using System.Text.Json;
using LbProxy.SampleOrigin;
using LbProxy.Tests.Infrastructure;

namespace LbProxy.Tests.Functional;

/// <summary>
/// Small request bodies are read whole and checked before anything goes upstream: a malformed one is a 400 with
/// nothing of the request on the origin; a good one arrives whole; a body above <c>LbProxy:Edge:BufferBodyUpTo</c>
/// streams as before.
/// </summary>
public sealed class RequestBodyBufferTests : IAsyncLifetime
{
    private static readonly JsonSerializerOptions Web = new(JsonSerializerDefaults.Web);

    private TestOrigins _origins = null!;
    private TestProxy _proxy = null!;

    public static TheoryData<string, string> MalformedBodies() => new()
    {
        { "lone LF after a chunk extension", "2;ext\nxx\r\n0\r\n\r\n" },
        { "chunk size not hex", "zz\r\nxx\r\n0\r\n\r\n" },
        { "chunk longer than its size", "2\r\nxxxx\r\n0\r\n\r\n" },
        { "no CRLF after chunk data", "2\r\nxxQ\r\n0\r\n\r\n" },
        { "bare LF chunk line", "2\nxx\n0\n\n" },
    };

    public async Task InitializeAsync()
    {
        _origins = await TestOrigins.StartAsync(1);
        _proxy = await TestProxy.StartAsync(TestConfig.CatchAll(_origins.All), "--LbProxy:Edge:BufferBodyUpTo", "1024");
    }

    public async Task DisposeAsync()
    {
        await _proxy.DisposeAsync();
        await _origins.DisposeAsync();
    }

    [Theory]
    [MemberData(nameof(MalformedBodies))]
    public async Task MalformedChunkedBody_IsA400_AndNothingReachesTheOrigin(string name, string body)
    {
        var response = await RawHttp.SendAsync(_proxy.Address,
            $"POST /echo/upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n{body}");

        Assert.True(response.StatusCode == 400, $"{name}: status {response.StatusCode}");
        Assert.Equal(0, _origins[0].RequestCount);
    }

    [Theory]
    [InlineData("chunked")]
    [InlineData("length")]
    public async Task WellFormedSmallBody_ArrivesWhole(string framing)
    {
        var body = new string('a', 1000);
        var framed = framing == "chunked"
            ? $"Transfer-Encoding: chunked\r\n\r\n1f4;ext=1\r\n{body[..500]}\r\n1f4\r\n{body[500..]}\r\n0\r\n\r\n"
            : $"Content-Length: {body.Length}\r\n\r\n{body}";

        var response = await RawHttp.SendAsync(_proxy.Address, $"POST /echo/upload HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{framed}");

        Assert.Equal(200, response.StatusCode);
        Assert.Equal(body, JsonSerializer.Deserialize<EchoResponse>(response.Body, Web)!.Body);
    }

    [Fact]
    public async Task LargeBody_StreamsAsBefore_AndArrivesWhole()
    {
        // Above the 1024-byte limit: the first chunks are read, the rest streams.
        var body = new string('b', 5000);
        var chunks = string.Concat(Enumerable.Range(0, 10).Select(i => $"1f4\r\n{body.Substring(i * 500, 500)}\r\n"));

        var chunked = await RawHttp.SendAsync(_proxy.Address,
            $"POST /echo/upload HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n{chunks}0\r\n\r\n");
        var lengthed = await RawHttp.SendAsync(_proxy.Address,
            $"POST /echo/upload HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {body.Length}\r\n\r\n{body}");

        Assert.Equal(body, JsonSerializer.Deserialize<EchoResponse>(chunked.Body, Web)!.Body);
        Assert.Equal(body, JsonSerializer.Deserialize<EchoResponse>(lengthed.Body, Web)!.Body);
    }
}
