using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.Extensions.Options;

namespace LbProxy.Edge;

/// <summary>
/// Closes (with a reset) the connection of a client that takes response bytes slower than
/// <see cref="MinBytesPerSecond"/> over <see cref="EdgeOptions.SlowReaderTimeout"/>. Kestrel's <c>MinResponseDataRate</c>
/// times only writes that wait, and an image response fits in the kernel's send buffer: the write completes at once,
/// Kestrel holds the idle connection for its keep-alive timeout (75 s), then closes it while the kernel still holds the
/// bytes the client has not read (measured: a 4,884-byte image to a client reading 5 bytes every 0.5 s: 3,976 bytes
/// in the send queue, the connection held 75 s, then left orphaned in FIN-WAIT-1). What the client has taken is the
/// kernel's to say: <c>TCP_INFO</c>'s <c>tcpi_bytes_acked</c> and <c>tcpi_notsent_bytes</c>, read for every connection
/// once a second by one timer. A connection with nothing pending is never cut, however long it idles. Linux only.
/// </summary>
internal sealed partial class SlowReaderCut : IDisposable
{
    /// <summary>Kestrel's own <c>MinResponseDataRate</c>: 240 B/s.</summary>
    public const long MinBytesPerSecond = 240;

    private const int TcpInfoLength = 232;
    private const int BytesAckedOffset = 120;
    private const int NotSentOffset = 144;
    private const int UnackedOffset = 24;
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);

    private readonly ConcurrentDictionary<ConnectionContext, Watch> _connections = new();
    private readonly IOptionsMonitor<EdgeOptions> _options;
    private readonly ILogger<SlowReaderCut> _logger;
    private readonly Timer? _timer;
    private long _cut;

    public SlowReaderCut(IOptionsMonitor<EdgeOptions> options, ILogger<SlowReaderCut> logger)
    {
        _options = options;
        _logger = logger;
        if (OperatingSystem.IsLinux())
        {
            _timer = new Timer(static state => ((SlowReaderCut)state!).Check(), this, Interval, Interval);
        }
    }

    /// <summary>Connections cut so far.</summary>
    public long Cut => Volatile.Read(ref _cut);

    /// <summary>Connection middleware: watches the connection while it lasts.</summary>
    public ConnectionDelegate OnConnection(ConnectionDelegate next) => async context =>
    {
        if (_timer is null || context.Features.Get<IConnectionSocketFeature>()?.Socket is not { } socket)
        {
            await next(context);
            return;
        }

        _connections[context] = new Watch(socket);
        try
        {
            await next(context);
        }
        finally
        {
            _connections.TryRemove(context, out _);
        }
    };

    public void Dispose() => _timer?.Dispose();

    private void Check()
    {
        var window = _options.CurrentValue.SlowReaderTimeout;
        if (window <= TimeSpan.Zero || _connections.IsEmpty)
        {
            return;
        }

        var now = Environment.TickCount64;
        var minimum = (long)(MinBytesPerSecond * window.TotalSeconds);
        Span<byte> info = stackalloc byte[TcpInfoLength];
        foreach (var (connection, watch) in _connections)
        {
            int length;
            try
            {
                length = watch.Socket.GetRawSocketOption((int)SocketOptionLevel.Tcp, 11 /* TCP_INFO */, info);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                continue;
            }

            if (length < NotSentOffset + 4)
            {
                continue;
            }

            var acked = BinaryPrimitives.ReadInt64LittleEndian(info[BytesAckedOffset..]);
            var pending = BinaryPrimitives.ReadUInt32LittleEndian(info[NotSentOffset..]) + BinaryPrimitives.ReadUInt32LittleEndian(info[UnackedOffset..]);
            if (pending == 0 || watch.Since == 0)
            {
                (watch.Since, watch.Acked) = (now, acked); // nothing owed to the client: the clock starts again
                continue;
            }

            if (now - watch.Since < (long)window.TotalMilliseconds)
            {
                continue;
            }

            if (acked - watch.Acked >= minimum)
            {
                (watch.Since, watch.Acked) = (now, acked);
                continue;
            }

            Interlocked.Increment(ref _cut);
            LogCut(_logger, connection.RemoteEndPoint, acked - watch.Acked, window);
            try
            {
                watch.Socket.LingerState = new LingerOption(true, 0); // a reset: the kernel drops the bytes it still holds
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
            }

            _connections.TryRemove(connection, out _);
            connection.Abort(new ConnectionAbortedException("The client took too few response bytes for the slow-reader timeout."));
            // Kestrel's abort of a connection idle between requests left it open for the keep-alive timeout (measured:
            // the client still read at 10 B/s 30 s later): closed here, with the linger of 0 above, it is a reset at once,
            // and Kestrel's pending receive ends with it.
            watch.Socket.Dispose();
        }
    }

    private sealed class Watch(Socket socket)
    {
        public Socket Socket { get; } = socket;

        public long Since { get; set; }

        public long Acked { get; set; }
    }

    [LoggerMessage(EventId = LogEvents.SlowReaderCut, Level = LogLevel.Information,
        Message = "Reset the connection of {Client}: it took {Bytes} response bytes in {Window}, under 240 B/s, with bytes still owed to it")]
    private static partial void LogCut(ILogger logger, System.Net.EndPoint? client, long bytes, TimeSpan window);
}
