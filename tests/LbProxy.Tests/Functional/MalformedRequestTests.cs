using System.Net.Sockets;
using System.Text;
using LbProxy.Tests.Infrastructure;

namespace LbProxy.Tests.Functional;

/// <summary>
/// Raw-socket probes of malformed and ambiguous requests: each is answered with a 4xx (or 501 for CONNECT) and
/// none reaches an origin.
/// </summary>
public sealed class MalformedRequestTests : IAsyncLifetime
{
    private readonly CatchAllProxy _setup = new();

    public static TheoryData<string, string> Probes() => new()
    {
        { "CL and TE (smuggling)", "POST /images/a.jpg HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" },
        { "TE and CL (smuggling)", "POST /images/a.jpg HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n" },
        { "two different lengths", "POST /images/a.jpg HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcde" },
        { "two equal lengths", "POST /images/a.jpg HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nContent-Length: 4\r\n\r\nabcd" },
        { "list of lengths", "POST /images/a.jpg HTTP/1.1\r\nHost: x\r\nContent-Length: 4, 4\r\n\r\nabcd" },
        { "negative length", "POST /images/a.jpg HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n" },
        { "unknown coding", "POST /images/a.jpg HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n" },
        { "coding before chunked", "POST /images/a.jpg HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n" },
        { "doubled chunked", "POST /images/a.jpg HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" },
        { "obfuscated coding", "POST /images/a.jpg HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n" },
        { "missing Host", "GET /images/a.jpg HTTP/1.1\r\n\r\n" },
        { "two Hosts", "GET /images/a.jpg HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n" },
        { "folded header", "GET /images/a.jpg HTTP/1.1\r\nHost: x\r\nX-Folded: a\r\n b\r\n\r\n" },
        { "space before colon", "GET /images/a.jpg HTTP/1.1\r\nHost : x\r\n\r\n" },
        { "bare LF", "GET /images/a.jpg HTTP/1.1\nHost: x\n\n" },
        { "oversized request line", "GET /images/" + new string('a', 9000) + ".jpg HTTP/1.1\r\nHost: x\r\n\r\n" },
        { "oversized headers", "GET /images/a.jpg HTTP/1.1\r\nHost: x\r\nX-Big: " + new string('b', 40_000) + "\r\n\r\n" },
        { "CONNECT", "CONNECT 127.0.0.1:443 HTTP/1.1\r\nHost: 127.0.0.1:443\r\n\r\n" },
        { "TRACE", "TRACE /images/a.jpg HTTP/1.1\r\nHost: x\r\n\r\n" },
        { "garbage", "\x01\x02\x03 nonsense\r\n\r\n" },
        { "HTTP/1.0 with chunked", "POST /images/a.jpg HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" },
        { "chunk size past 2^63", "POST /images/a.jpg HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFF\r\nx\r\n0\r\n\r\n" },
        // Content-Length is 1*DIGIT (RFC 9110 §8.6); nginx and HAProxy refuse every other spelling.
        { "length with a plus sign", "POST /images/a.jpg HTTP/1.1\r\nHost: x\r\nContent-Length: +5\r\n\r\nabcde" },
        { "length with a minus zero", "POST /images/a.jpg HTTP/1.1\r\nHost: x\r\nContent-Length: -0\r\n\r\n" },
        { "length with a space inside", "POST /images/a.jpg HTTP/1.1\r\nHost: x\r\nContent-Length: 5 5\r\n\r\nabcde" },
        { "list of two equal lengths", "POST /images/a.jpg HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 5\r\n\r\nabcde" },
        { "hexadecimal length", "POST /images/a.jpg HTTP/1.1\r\nHost: x\r\nContent-Length: 0x5\r\n\r\nabcde" },
        { "decimal point in length", "POST /images/a.jpg HTTP/1.1\r\nHost: x\r\nContent-Length: 5.0\r\n\r\nabcde" },
        { "exponent in length", "POST /images/a.jpg HTTP/1.1\r\nHost: x\r\nContent-Length: 5e0\r\n\r\nabcde" },
        { "superscript digit as length", "POST /images/a.jpg HTTP/1.1\r\nHost: x\r\nContent-Length: \u00b2\r\n\r\nabcde" },
        { "control byte in length", "POST /images/a.jpg HTTP/1.1\r\nHost: x\r\nContent-Length: 5\u0001\r\n\r\nabcde" },
        { "length of 21 digits", "POST /images/a.jpg HTTP/1.1\r\nHost: x\r\nContent-Length: 000000000000000000005\r\n\r\nabcde" },
        { "chunk size of 2^63", "POST /images/a.jpg HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n8000000000000000\r\nx\r\n0\r\n\r\n" },
    };

    public Task InitializeAsync() => _setup.StartAsync();

    public Task DisposeAsync() => _setup.DisposeAsync();

    [Theory]
    [MemberData(nameof(Probes))]
    public async Task Probe_IsRefusedWith4xx_AndNeverReachesTheOrigin(string name, string raw)
    {
        var status = await SendRawAsync(raw);

        Assert.True(status is >= 400 and < 500 || (name == "CONNECT" && status == 501), $"{name}: status {status}");
        Assert.Equal(0, _setup.Origins[0].RequestCount);
    }

    [Fact]
    public async Task Probe_AWellFormedRequest_DoesReachTheOrigin()
    {
        // The control: the same socket code gets a 200 for a good request, so the refusals above are real.
        var status = await SendRawAsync("GET /images/a.jpg HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");

        Assert.Equal(200, status);
        Assert.Equal(1, _setup.Origins[0].RequestCount);
    }

    [Theory]
    [InlineData("5")]
    [InlineData("005")]     // leading zeros are still 1*DIGIT
    [InlineData("5 ")]      // whitespace around a field value is not part of it (RFC 9110 §5.5)
    public async Task Probe_ADigitsOnlyContentLength_DoesReachTheOrigin(string length)
    {
        var response = await RawHttp.SendAsync(_setup.Proxy.Address,
            $"POST /echo/a HTTP/1.1\r\nHost: x\r\nContent-Length: {length}\r\nConnection: close\r\n\r\nabcde");

        Assert.Equal(200, response.StatusCode);
        Assert.Contains("\"abcde\"", response.Body, StringComparison.Ordinal);
        Assert.Equal(1, _setup.Origins[0].RequestCount);
    }

    [Fact]
    public async Task Probe_ConnectionNamingAContentHeaderOrABadName_IsStillForwarded()
    {
        // Such names cannot be removed from an upstream request the usual way; they must not become a 502.
        var status = await SendRawAsync("GET /images/a.jpg HTTP/1.1\r\nHost: x\r\nConnection: close, Content-Type, bad@name, X-Hop\r\nX-Hop: 1\r\n\r\n");

        Assert.Equal(200, status);
        Assert.Equal(1, _setup.Origins[0].RequestCount);
    }

    [Fact]
    public async Task OptionsAsterisk_IsAnsweredHere_NeverForwardedAsOptionsSlash()
    {
        var status = await SendRawAsync("OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");

        Assert.Equal(200, status);
        Assert.Equal(0, _setup.Origins[0].RequestCount);
    }

    [Fact]
    public async Task ChunkSizePast2To63_Is400WithoutAStackTrace()
    {
        var response = await RawHttp.SendAsync(_setup.Proxy.Address,
            "POST /images/a.jpg HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nFFFFFFFFFFFFFFFFF\r\nx\r\n0\r\n\r\n");

        Assert.Equal(400, response.StatusCode);
        Assert.DoesNotContain("   at ", response.Body, StringComparison.Ordinal);
        Assert.Equal(0, _setup.Origins[0].RequestCount);
    }

    /// <summary>Sends raw bytes and reads the status code of the first response line.</summary>
    private async Task<int> SendRawAsync(string raw)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(_setup.Proxy.Address.Host, _setup.Proxy.Address.Port);
        var stream = client.GetStream();
        stream.ReadTimeout = 10_000;
        try
        {
            await stream.WriteAsync(Encoding.Latin1.GetBytes(raw));
        }
        catch (IOException)
        {
            // The server may close before reading all of an oversized request; its answer is still there.
        }

        var buffer = new byte[4096];
        var read = 0;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (read < 12)
        {
            var n = await stream.ReadAsync(buffer.AsMemory(read), timeout.Token);
            if (n == 0)
            {
                break;
            }

            read += n;
        }

        var line = Encoding.Latin1.GetString(buffer, 0, read);
        Assert.StartsWith("HTTP/1.1 ", line);
        return int.Parse(line.AsSpan(9, 3), provider: System.Globalization.CultureInfo.InvariantCulture);
    }
}
