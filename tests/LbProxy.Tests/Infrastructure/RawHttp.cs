using System.Net.Sockets;
using System.Text;

namespace LbProxy.Tests.Infrastructure;

/// <summary>
/// HTTP/1.1 over a plain socket, for requests that HttpClient would clean up before sending: request targets
/// such as <c>/x/../_lb</c> or <c>//_lb</c>, header spellings such as several <c>Connection</c> headers or odd
/// whitespace, and bytes HttpClient refuses to send. The proxy must see the request as an attacker sends it.
/// </summary>
internal static class RawHttp
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    public static async Task<RawResponse> GetAsync(Uri server, string target, string? authorization = null)
    {
        var request = new StringBuilder()
            .Append($"GET {target} HTTP/1.1\r\nHost: {server.Authority}\r\nConnection: close\r\n");
        if (authorization is not null)
        {
            request.Append($"Authorization: {authorization}\r\n");
        }

        return await SendAsync(server, Encoding.ASCII.GetBytes(request.Append("\r\n").ToString()));
    }

    /// <summary>Sends <paramref name="request"/> (Latin-1: each char one byte) and reads one response.</summary>
    public static Task<RawResponse> SendAsync(Uri server, string request) => SendAsync(server, Encoding.Latin1.GetBytes(request));

    /// <summary>
    /// Sends <paramref name="request"/> (Latin-1) and reads everything the server sends until it closes the
    /// connection: for pipelined requests whose last one says <c>Connection: close</c>, every answer. Reading only
    /// the first and closing can abort the server's work on the next one before it began.
    /// </summary>
    public static async Task<string> ExchangeUntilClosedAsync(Uri server, string request)
    {
        using var client = new TcpClient();
        using var timeout = new CancellationTokenSource(Timeout);
        await client.ConnectAsync(server.Host, server.Port, timeout.Token);
        await using var stream = client.GetStream();
        await stream.WriteAsync(Encoding.Latin1.GetBytes(request), timeout.Token);
        var received = new MemoryStream();
        var buffer = new byte[8192];
        while (await ReadAsync(stream, buffer, received, timeout.Token) > 0)
        {
        }

        return Encoding.Latin1.GetString(received.ToArray());
    }

    /// <summary>
    /// Sends <paramref name="request"/> as it is and reads one response, framed by its <c>Content-Length</c>, its
    /// chunks, or the end of the connection; the connection may stay open on the server side.
    /// </summary>
    public static async Task<RawResponse> SendAsync(Uri server, byte[] request)
    {
        using var client = new TcpClient();
        using var timeout = new CancellationTokenSource(Timeout);
        await client.ConnectAsync(server.Host, server.Port, timeout.Token);
        await using var stream = client.GetStream();
        try
        {
            await stream.WriteAsync(request, timeout.Token);
        }
        catch (IOException)
        {
            // The server may answer and close before it has read all of a request it refuses; its answer is still there.
        }

        var received = new MemoryStream();
        var buffer = new byte[8192];
        int headerEnd;
        while ((headerEnd = IndexOf(received, "\r\n\r\n"u8)) < 0)
        {
            if (await ReadAsync(stream, buffer, received, timeout.Token) == 0)
            {
                throw new IOException($"connection closed before a whole response head: {Encoding.Latin1.GetString(received.ToArray())}");
            }
        }

        var head = Encoding.Latin1.GetString(received.GetBuffer(), 0, headerEnd);
        var eol = head.IndexOf("\r\n", StringComparison.Ordinal);
        var statusLine = eol >= 0 ? head[..eol] : head;
        var status = int.Parse(statusLine.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
        var bodyStart = headerEnd + 4;
        var body = await ReadBodyAsync(stream, head, status, buffer, received, bodyStart, timeout.Token);
        return new RawResponse(status, head, body);
    }

    private static async Task<string> ReadBodyAsync(NetworkStream stream, string head, int status, byte[] buffer, MemoryStream received, int start, CancellationToken cancel)
    {
        if (status is 204 or 304 || status < 200)
        {
            return "";
        }

        if (HeaderValue(head, "Content-Length") is { } lengthText)
        {
            var length = int.Parse(lengthText, System.Globalization.CultureInfo.InvariantCulture);
            while (received.Length - start < length && await ReadAsync(stream, buffer, received, cancel) > 0)
            {
            }

            return Encoding.Latin1.GetString(received.GetBuffer(), start, (int)Math.Min(length, received.Length - start));
        }

        if (HeaderValue(head, "Transfer-Encoding") is { } coding && coding.Contains("chunked", StringComparison.OrdinalIgnoreCase))
        {
            var decoded = new StringBuilder();
            var position = start;
            while (true)
            {
                int lineEnd;
                while ((lineEnd = IndexOf(received, "\r\n"u8, position)) < 0)
                {
                    if (await ReadAsync(stream, buffer, received, cancel) == 0)
                    {
                        return decoded.ToString();
                    }
                }

                var sizeText = Encoding.Latin1.GetString(received.GetBuffer(), position, lineEnd - position).Split(';')[0];
                var size = int.Parse(sizeText, System.Globalization.NumberStyles.HexNumber, System.Globalization.CultureInfo.InvariantCulture);
                if (size == 0)
                {
                    return decoded.ToString();
                }

                while (received.Length < lineEnd + 2 + size + 2 && await ReadAsync(stream, buffer, received, cancel) > 0)
                {
                }

                decoded.Append(Encoding.Latin1.GetString(received.GetBuffer(), lineEnd + 2, size));
                position = lineEnd + 2 + size + 2;
            }
        }

        while (await ReadAsync(stream, buffer, received, cancel) > 0)
        {
        }

        return Encoding.Latin1.GetString(received.GetBuffer(), start, (int)received.Length - start);
    }

    private static async Task<int> ReadAsync(NetworkStream stream, byte[] buffer, MemoryStream received, CancellationToken cancel)
    {
        int read;
        try
        {
            read = await stream.ReadAsync(buffer, cancel);
        }
        catch (IOException)
        {
            // A reset after the answer (the server closing a connection it refused) ends the response.
            return 0;
        }

        received.Write(buffer, 0, read);
        return read;
    }

    private static string? HeaderValue(string head, string name)
    {
        foreach (var line in head.Split("\r\n"))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon > 0 && line.AsSpan(0, colon).Equals(name, StringComparison.OrdinalIgnoreCase))
            {
                return line[(colon + 1)..].Trim();
            }
        }

        return null;
    }

    private static int IndexOf(MemoryStream received, ReadOnlySpan<byte> value, int from = 0) =>
        received.Length <= from ? -1 : received.GetBuffer().AsSpan(from, (int)received.Length - from).IndexOf(value) is var i and >= 0 ? i + from : -1;
}
