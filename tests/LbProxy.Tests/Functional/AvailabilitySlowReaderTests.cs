using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using LbProxy.Tests.Infrastructure;

namespace LbProxy.Tests.Functional;

/// <summary>
/// HTTP/1.1 clients on raw sockets with a 1 KiB receive buffer. One reads its image 5 bytes every half second
/// (10 B/s): the response fits in the kernel's send buffer, so Kestrel's own data-rate check never times it, and before
/// it was held for the 75 s keep-alive; now it is reset within the slow-reader timeout. One reads at once and then
/// idles, owed nothing: it keeps its connection past several timeouts and its next request is answered.
/// </summary>
public sealed class AvailabilitySlowReaderTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(3);
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);
    private static readonly byte[] Request = Encoding.ASCII.GetBytes("GET /images/sample.jpg HTTP/1.1\r\nHost: a.test\r\n\r\n");

    [Fact]
    public async Task ClientReadsTenBytesASecond_ConnectionResetWithinTheTimeout_IdleClientKeepsItsConnection()
    {
        await using var origins = await TestOrigins.StartAsync(1);
        await using var proxy = await TestProxy.StartAsync(TestConfig.CatchAll(origins.All), "--LbProxy:Edge:SlowReaderTimeout", Timeout.ToString());
        using var slow = await ConnectAsync(proxy.Address);
        using var idle = await ConnectAsync(proxy.Address);
        await slow.SendAsync(Request);
        await idle.SendAsync(Request);
        Assert.True(await ReadAllAvailableAsync(idle) > 0);

        var clock = Stopwatch.StartNew();
        var read = 0;
        var ended = false;
        var buffer = new byte[5];
        while (clock.Elapsed < Bound && !ended)
        {
            // A reset ends the connection at once, but the bytes already in this client's receive buffer stay readable
            // (at 10 B/s, for minutes): the kernel's state of the connection says when it ended.
            if (!Established(slow))
            {
                ended = true;
                break;
            }

            try
            {
                read += await slow.ReceiveAsync(buffer);
            }
            catch (SocketException)
            {
                ended = true;
            }

            await Task.Delay(500);
        }

        // Cut within the timeout plus the checker's second and a generous margin; far below the 75 s keep-alive.
        Assert.True(ended, $"still connected after {clock.Elapsed}, {read} bytes read");
        Assert.InRange(clock.Elapsed, Timeout, Timeout + TimeSpan.FromSeconds(10));
        Assert.InRange(read, 1, 4_000); // the 4,884-byte image was not all taken

        // The idle client was owed nothing the whole time: its connection serves the next request.
        await idle.SendAsync(Request);
        var answer = Encoding.Latin1.GetString(await ReadHeadAsync(idle));
        Assert.StartsWith("HTTP/1.1 200", answer, StringComparison.Ordinal);
    }

    /// <summary>The connection's TCP state (<c>TCP_INFO</c>'s first byte) is ESTABLISHED.</summary>
    private static bool Established(Socket socket)
    {
        Span<byte> info = stackalloc byte[8];
        return socket.GetRawSocketOption((int)SocketOptionLevel.Tcp, 11, info) > 0 && info[0] == 1;
    }

    private static async Task<Socket> ConnectAsync(Uri address)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 1024 };
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, address.Port));
        return socket;
    }

    private static async Task<int> ReadAllAvailableAsync(Socket socket)
    {
        var buffer = new byte[64 * 1024];
        var total = 0;
        using var quiet = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        try
        {
            while (true)
            {
                var n = await socket.ReceiveAsync(buffer, quiet.Token);
                if (n == 0)
                {
                    break;
                }

                total += n;
                quiet.CancelAfter(TimeSpan.FromMilliseconds(500));
            }
        }
        catch (OperationCanceledException)
        {
        }

        return total;
    }

    private static async Task<byte[]> ReadHeadAsync(Socket socket)
    {
        var buffer = new byte[64 * 1024];
        using var bound = new CancellationTokenSource(Bound);
        var n = await socket.ReceiveAsync(buffer, bound.Token);
        return buffer[..n];
    }
}
