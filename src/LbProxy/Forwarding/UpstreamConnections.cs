using System.Net.Sockets;
using Microsoft.Extensions.Options;

namespace LbProxy.Forwarding;

/// <summary>
/// Counts and caps the forwarder's upstream connections where they are made, in <c>SocketsHttpHandler.ConnectCallback</c>:
/// once per connection, never per request, and only the forwarder's (not the health probes' or anyone else's
/// HttpClient). It connects as SocketsHttpHandler does without a callback (a dual-mode socket with NoDelay, then
/// <c>ConnectAsync</c> under the handler's ConnectTimeout) and hands back a stream that counts its own close.
/// A connection past <see cref="ForwardingOptions.MaxConnections"/> waits up to <see cref="SlotWait"/> for another to
/// close, then fails with <see cref="SocketError.TooManyOpenSockets"/>, as a socket past the process's descriptor
/// limit would: a failure of this machine (<see cref="UpstreamFailure.LocalFailure"/>), which takes no destination out.
/// </summary>
internal sealed class UpstreamConnections(IOptionsMonitor<ForwardingOptions> options)
{
    /// <summary>
    /// How long a new connection waits for a slot at most (and at most half the connect timeout): long enough for a response in flight to end and free its connection
    /// (the sample origin answers in about a millisecond), short enough that the client's 503 comes soon.
    /// </summary>
    public static readonly TimeSpan SlotWait = TimeSpan.FromSeconds(1);

    private long _open;
    private long _opened;
    private long _refused;
    private int _waiters;
    private TaskCompletionSource _closed = NewSignal();

    /// <summary>Connections open or being opened.</summary>
    public long Open => Volatile.Read(ref _open);

    public long Opened => Volatile.Read(ref _opened);

    /// <summary>Connections not made because the cap stayed full for <see cref="SlotWait"/>.</summary>
    public long Refused => Volatile.Read(ref _refused);

    public async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, CancellationToken cancellationToken)
    {
        await TakeSlotAsync(cancellationToken).ConfigureAwait(false);
        Socket? socket = null;
        try
        {
            socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            await socket.ConnectAsync(context.DnsEndPoint, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            socket?.Dispose();
            Release();
            throw;
        }

        Interlocked.Increment(ref _opened);
        return new CountedStream(socket, this);
    }

    private ValueTask TakeSlotAsync(CancellationToken cancellationToken) =>
        TryTakeSlot(out _) ? ValueTask.CompletedTask : WaitForSlotAsync(cancellationToken);

    private bool TryTakeSlot(out int cap)
    {
        cap = options.CurrentValue.MaxConnections;
        if (Interlocked.Increment(ref _open) <= cap || cap <= 0)
        {
            return true;
        }

        Interlocked.Decrement(ref _open);
        return false;
    }

    private async ValueTask WaitForSlotAsync(CancellationToken cancellationToken)
    {
        // Within half the connect timeout, so a wait here is never taken for the destination's own connect timing out.
        var wait = TimeSpan.FromTicks(Math.Min(SlotWait.Ticks, options.CurrentValue.ConnectTimeout.Ticks / 2));
        var deadline = Environment.TickCount64 + (long)wait.TotalMilliseconds;
        Interlocked.Increment(ref _waiters); // before the signal is read: a close from now on replaces it
        try
        {
            while (true)
            {
                var closed = Volatile.Read(ref _closed).Task;
                if (TryTakeSlot(out var cap))
                {
                    return;
                }

                var left = deadline - Environment.TickCount64;
                if (left <= 0)
                {
                    Interlocked.Increment(ref _refused);
                    throw new SocketException((int)SocketError.TooManyOpenSockets,
                        $"upstream connection cap reached: {cap} open (LbProxy:Forwarding:MaxConnections, derived from the file-descriptor limit when 0)");
                }

                try
                {
                    await closed.WaitAsync(TimeSpan.FromMilliseconds(left), cancellationToken).ConfigureAwait(false);
                }
                catch (TimeoutException)
                {
                    // Tried once more above, then refused.
                }
            }
        }
        finally
        {
            Interlocked.Decrement(ref _waiters);
        }
    }

    private void Release()
    {
        Interlocked.Decrement(ref _open);
        if (Volatile.Read(ref _waiters) > 0)
        {
            // Wakes every waiter; one takes the slot, the others wait again. Only at the cap is there any.
            Interlocked.Exchange(ref _closed, NewSignal()).TrySetResult();
        }
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private sealed class CountedStream(Socket socket, UpstreamConnections owner) : NetworkStream(socket, ownsSocket: true)
    {
        private int _closed;

        protected override void Dispose(bool disposing)
        {
            if (Interlocked.Exchange(ref _closed, 1) == 0)
            {
                owner.Release();
            }

            base.Dispose(disposing);
        }
    }
}
