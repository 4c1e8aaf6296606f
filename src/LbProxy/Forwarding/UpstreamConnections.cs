using System.Net.Sockets;

namespace LbProxy.Forwarding;

/// <summary>
/// Counts the forwarder's upstream connections where they are made, in <c>SocketsHttpHandler.ConnectCallback</c>:
/// once per connection, never per request, and only the forwarder's (not the health probes' or anyone else's
/// HttpClient). It connects as SocketsHttpHandler does without a callback (a dual-mode socket with NoDelay, then
/// <c>ConnectAsync</c> under the handler's ConnectTimeout) and hands back a stream that counts its own close.
/// </summary>
internal sealed class UpstreamConnections
{
    private long _open;
    private long _opened;

    public long Open => Volatile.Read(ref _open);

    public long Opened => Volatile.Read(ref _opened);

    public async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, CancellationToken cancellationToken)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(context.DnsEndPoint, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        Interlocked.Increment(ref _opened);
        Interlocked.Increment(ref _open);
        return new CountedStream(socket, this);
    }

    private sealed class CountedStream(Socket socket, UpstreamConnections owner) : NetworkStream(socket, ownsSocket: true)
    {
        private int _closed;

        protected override void Dispose(bool disposing)
        {
            if (Interlocked.Exchange(ref _closed, 1) == 0)
            {
                Interlocked.Decrement(ref owner._open);
            }

            base.Dispose(disposing);
        }
    }
}
