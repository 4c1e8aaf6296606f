using System.Net.Sockets;
using System.Text;

namespace LbProxy.Tests.Infrastructure;

/// <summary>
/// HTTP/1.1 over a plain socket, for request targets that HttpClient would clean up before sending
/// (<c>/x/../_lb</c>, <c>/_lb/./status</c>, <c>//_lb</c>): the proxy must see the spelling as an attacker sends it.
/// </summary>
internal static class RawHttp
{
    public static async Task<RawResponse> GetAsync(Uri server, string target, string? authorization = null)
    {
        using var client = new TcpClient();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await client.ConnectAsync(server.Host, server.Port, timeout.Token);
        await using var stream = client.GetStream();
        var request = new StringBuilder()
            .Append($"GET {target} HTTP/1.1\r\nHost: {server.Authority}\r\nConnection: close\r\n");
        if (authorization is not null)
        {
            request.Append($"Authorization: {authorization}\r\n");
        }

        await stream.WriteAsync(Encoding.ASCII.GetBytes(request.Append("\r\n").ToString()), timeout.Token);
        using var reader = new StreamReader(stream, Encoding.Latin1);
        var text = await reader.ReadToEndAsync(timeout.Token);
        var statusLine = text[..text.IndexOf("\r\n", StringComparison.Ordinal)];
        var headerEnd = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        return new RawResponse(int.Parse(statusLine.Split(' ')[1]), text[..headerEnd], text[(headerEnd + 4)..]);
    }
}
