using System.Buffers.Binary;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Text;

namespace LbProxy.Tests.Infrastructure;

/// <summary>HTTP/2 frame types and flags (RFC 9113 §6) that the raw client sends or reads.</summary>
internal enum Http2FrameType : byte
{
    Data = 0x0,
    Headers = 0x1,
    RstStream = 0x3,
    Settings = 0x4,
    Ping = 0x6,
    GoAway = 0x7,
    WindowUpdate = 0x8,
    Continuation = 0x9,
}

/// <summary>One frame as read from the server.</summary>
internal readonly record struct Http2Frame(Http2FrameType Type, byte Flags, int StreamId, byte[] Payload)
{
    public const byte EndStream = 0x1;
    public const byte Ack = 0x1;
    public const byte EndHeaders = 0x4;

    /// <summary>The error code of a RST_STREAM or GOAWAY frame.</summary>
    public uint ErrorCode => Type switch
    {
        Http2FrameType.RstStream => BinaryPrimitives.ReadUInt32BigEndian(Payload),
        Http2FrameType.GoAway => BinaryPrimitives.ReadUInt32BigEndian(Payload.AsSpan(4)),
        _ => 0,
    };
}

/// <summary>HPACK (RFC 7541) the smallest way: every field a literal without indexing, with a new name, no Huffman.</summary>
internal static class MinimalHpack
{
    public static byte[] Encode(params (string Name, string Value)[] fields)
    {
        var block = new List<byte>();
        foreach (var (name, value) in fields)
        {
            block.Add(0x00);   // literal header field without indexing, new name (§6.2.2)
            AddString(block, name);
            AddString(block, value);
        }

        return [.. block];
    }

    /// <summary>The request fields of a GET of <paramref name="path"/>.</summary>
    public static byte[] Get(string authority, string path) =>
        Encode((":method", "GET"), (":scheme", "https"), (":authority", authority), (":path", path));

    private static void AddString(List<byte> block, string text)
    {
        var bytes = Encoding.ASCII.GetBytes(text);
        AddInteger(block, bytes.Length, prefixBits: 7, firstByte: 0x00);   // H = 0: not Huffman-coded
        block.AddRange(bytes);
    }

    /// <summary>An integer with an N-bit prefix (§5.1).</summary>
    private static void AddInteger(List<byte> block, int value, int prefixBits, byte firstByte)
    {
        var max = (1 << prefixBits) - 1;
        if (value < max)
        {
            block.Add((byte)(firstByte | value));
            return;
        }

        block.Add((byte)(firstByte | max));
        value -= max;
        while (value >= 128)
        {
            block.Add((byte)((value % 128) + 128));
            value /= 128;
        }

        block.Add((byte)value);
    }
}

/// <summary>
/// A raw HTTP/2 client over TLS (ALPN <c>h2</c>) on loopback, for sending what no well-behaved client sends: frames
/// are written exactly as asked, and a reader records what the server sends back (it answers SETTINGS and PING, as
/// any client must, and sends no WINDOW_UPDATE, so it never takes a DATA byte it did not ask for). Every wait is bounded.
/// </summary>
internal sealed class RawHttp2Client : IAsyncDisposable
{
    private static readonly byte[] Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8.ToArray();

    private readonly TcpClient _tcp;
    private readonly SslStream _tls;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly List<Http2Frame> _received = [];
    private Task _reading = Task.CompletedTask;
    private int _nextStreamId = 1;
    private long _framesSent;

    private RawHttp2Client(TcpClient tcp, SslStream tls)
    {
        _tcp = tcp;
        _tls = tls;
    }

    /// <summary>Completes when the server closed the connection (end of stream or a reset).</summary>
    public Task Closed => _closed.Task;

    public bool IsClosed => _closed.Task.IsCompleted;

    /// <summary>Frames written whole, the preface's SETTINGS and the answers to the server's SETTINGS and PING included.</summary>
    public long FramesSent => Interlocked.Read(ref _framesSent);

    /// <summary>Streams opened with <see cref="NextStreamId"/>.</summary>
    public int StreamsOpened => (_nextStreamId - 1) / 2;

    /// <summary>
    /// Connects, sends the preface and a SETTINGS frame with <paramref name="settings"/> (id, value), and waits for the
    /// server's SETTINGS. <paramref name="settings"/> such as (0x4, 0): an initial stream window of zero.
    /// </summary>
    public static async Task<RawHttp2Client> ConnectAsync(int port, string host, params (ushort Id, uint Value)[] settings)
    {
        var tcp = new TcpClient { NoDelay = true };
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await tcp.ConnectAsync(IPAddress.Loopback, port, cts.Token);
#pragma warning disable CA5359   // the test's own server: what it does after the handshake is the point, not its chain
        var tls = new SslStream(tcp.GetStream(), leaveInnerStreamOpen: false, static (_, _, _, _) => true);
#pragma warning restore CA5359
        await tls.AuthenticateAsClientAsync(
            new SslClientAuthenticationOptions { TargetHost = host, ApplicationProtocols = [SslApplicationProtocol.Http2] }, cts.Token);
        Assert.Equal(SslApplicationProtocol.Http2, tls.NegotiatedApplicationProtocol);

        var client = new RawHttp2Client(tcp, tls);
        var payload = new byte[settings.Length * 6];
        for (var i = 0; i < settings.Length; i++)
        {
            BinaryPrimitives.WriteUInt16BigEndian(payload.AsSpan(i * 6), settings[i].Id);
            BinaryPrimitives.WriteUInt32BigEndian(payload.AsSpan((i * 6) + 2), settings[i].Value);
        }

        await tls.WriteAsync(Preface, cts.Token);
        await client.WriteFrameAsync(Http2FrameType.Settings, 0, 0, payload);
        client._reading = client.ReadAsync();
        await Poll.UntilAsync(() => client.Received(Http2FrameType.Settings).Count > 0 || client.IsClosed, TimeSpan.FromSeconds(10), "the server's SETTINGS");
        Assert.False(client.IsClosed, "the server closed the connection before its SETTINGS");
        return client;
    }

    /// <summary>A fresh client-initiated stream id (odd, increasing).</summary>
    public int NextStreamId()
    {
        var id = _nextStreamId;
        _nextStreamId += 2;
        return id;
    }

    /// <summary>The frames of <paramref name="type"/> received so far.</summary>
    public IReadOnlyList<Http2Frame> Received(Http2FrameType type)
    {
        lock (_received)
        {
            return [.. _received.Where(f => f.Type == type)];
        }
    }

    /// <summary>
    /// Writes one frame, buffered by TLS. Returns false once the connection is gone (the server closed it), so a flood
    /// loop can stop there.
    /// </summary>
    public async Task<bool> WriteFrameAsync(Http2FrameType type, byte flags, int streamId, ReadOnlyMemory<byte> payload, bool flush = true)
    {
        var frame = new byte[9 + payload.Length];
        frame[0] = (byte)(payload.Length >> 16);
        frame[1] = (byte)(payload.Length >> 8);
        frame[2] = (byte)payload.Length;
        frame[3] = (byte)type;
        frame[4] = flags;
        BinaryPrimitives.WriteInt32BigEndian(frame.AsSpan(5), streamId & int.MaxValue);
        payload.Span.CopyTo(frame.AsSpan(9));

        await _writeLock.WaitAsync();
        try
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await _tls.WriteAsync(frame, cts.Token);
            if (flush)
            {
                await _tls.FlushAsync(cts.Token);
            }

            Interlocked.Increment(ref _framesSent);
            return true;
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or OperationCanceledException or NotSupportedException)
        {
            return false;
        }
        finally
        {
            _writeLock.Release();
        }
    }

    public Task<bool> RstStreamAsync(int streamId, uint errorCode = 0x8, bool flush = true)
    {
        var payload = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(payload, errorCode);   // 0x8: CANCEL
        return WriteFrameAsync(Http2FrameType.RstStream, 0, streamId, payload, flush);
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _tcp.Dispose();
        await _tls.DisposeAsync();
        await Task.WhenAny(_reading, Task.Delay(TimeSpan.FromSeconds(5)));
        _stop.Dispose();
        _writeLock.Dispose();
    }

    private async Task ReadAsync()
    {
        var header = new byte[9];
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                await _tls.ReadExactlyAsync(header, _stop.Token);
                var length = (header[0] << 16) | (header[1] << 8) | header[2];
                var payload = new byte[length];
                await _tls.ReadExactlyAsync(payload, _stop.Token);
                var frame = new Http2Frame((Http2FrameType)header[3], header[4], BinaryPrimitives.ReadInt32BigEndian(header.AsSpan(5)) & int.MaxValue, payload);
                lock (_received)
                {
                    _received.Add(frame);
                }

                if (frame.Type is Http2FrameType.Settings or Http2FrameType.Ping && (frame.Flags & Http2Frame.Ack) == 0)
                {
                    await WriteFrameAsync(frame.Type, Http2Frame.Ack, 0, frame.Type == Http2FrameType.Ping ? payload : ReadOnlyMemory<byte>.Empty);
                }
            }
        }
        catch (Exception e) when (e is IOException or EndOfStreamException or ObjectDisposedException or OperationCanceledException)
        {
        }
        finally
        {
            _closed.TrySetResult();
        }
    }
}
