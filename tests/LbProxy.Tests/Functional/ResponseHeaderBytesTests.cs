using LbProxy.Tests.Infrastructure;

namespace LbProxy.Tests.Functional;

/// <summary>
/// Bytes 0x80–0xFF in an origin's response header (obs-text: a Latin-1 file name in Content-Disposition, an old
/// CMS's custom header). The request side forwards them unchanged; the response side must too, not a 502. A
/// control byte is no header content: that response is the origin's error, a 502 as nginx answers it, and the
/// byte never reaches the client.
/// </summary>
public sealed class ResponseHeaderBytesTests
{
    [Theory]
    [InlineData(0x80)]
    [InlineData(0xA0)]
    [InlineData(0xE9)]
    [InlineData(0xFF)]
    public async Task OriginHeaderWithObsText_ReachesTheClientByteForByte(int value)
    {
        var bytes = $"caf{(char)value}.jpg";
        await using var origin = RawOrigin.Start(
            $"HTTP/1.1 200 OK\r\nContent-Disposition: inline; filename=\"{bytes}\"\r\nX-Origin-Note: {bytes}\r\nContent-Length: 2\r\n\r\nok");
        await using var proxy = await TestProxy.StartAsync(new TestConfig()
            .Route("images", "images", "/images/{**path}")
            .Cluster("images", [("raw", origin.Address)])
            .ToJson());

        var response = await RawHttp.SendAsync(proxy.Address, "GET /images/a.jpg HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");

        Assert.Equal(200, response.StatusCode);
        Assert.Contains($"\r\nContent-Disposition: inline; filename=\"{bytes}\"", response.Headers, StringComparison.Ordinal);
        Assert.Contains($"\r\nX-Origin-Note: {bytes}", response.Headers, StringComparison.Ordinal);
        Assert.Equal("ok", response.Body);
    }

    [Theory]
    [InlineData(0x01)]
    [InlineData(0x0B)]
    [InlineData(0x1F)]
    [InlineData(0x7F)]
    public async Task OriginHeaderWithAControlByte_IsABadGatewayAndTheByteGoesNoFurther(int value)
    {
        await using var origin = RawOrigin.Start($"HTTP/1.1 200 OK\r\nX-Origin-Note: a{(char)value}b\r\nContent-Length: 2\r\n\r\nok");
        await using var proxy = await TestProxy.StartAsync(new TestConfig()
            .Route("images", "images", "/images/{**path}")
            .Cluster("images", [("raw", origin.Address)])
            .ToJson());

        var response = await RawHttp.SendAsync(proxy.Address, "GET /images/a.jpg HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");

        Assert.Equal(502, response.StatusCode);
        Assert.DoesNotContain((char)value, response.Headers + response.Body);
    }
}
