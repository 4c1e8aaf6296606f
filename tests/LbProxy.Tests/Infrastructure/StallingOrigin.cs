using System.Net;
using System.Net.Sockets;
using System.Text;

namespace LbProxy.Tests.Infrastructure;

/// <summary>
/// An origin on a plain socket at 127.0.0.1:0 that answers every request with a 200 promising 100,000 bytes, sends the
/// first 1,000 and then goes silent, holding the connection until disposed: an origin stalled in the middle of a body.
/// </summary>
internal sealed class StallingOrigin : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;
    private int _requests;

    public StallingOrigin()
    {
        _listener.Start();
        Address = new Uri($"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}/");
        _accepting = AcceptAsync();
    }

    public Uri Address { get; }

    public int Requests => Volatile.Read(ref _requests);

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await Task.WhenAny(_accepting, Task.Delay(TimeSpan.FromSeconds(5)));
        _stop.Dispose();
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                _ = ServeAsync(await _listener.AcceptTcpClientAsync(_stop.Token));
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }
        }
    }

    private async Task ServeAsync(TcpClient client)
    {
        using (client)
        {
            try
            {
                var stream = client.GetStream();
                var head = new StringBuilder();
                var buffer = new byte[4096];
                while (!head.ToString().Contains("\r\n\r\n", StringComparison.Ordinal))
                {
                    var read = await stream.ReadAsync(buffer, _stop.Token);
                    if (read == 0)
                    {
                        return;
                    }

                    head.Append(Encoding.Latin1.GetString(buffer, 0, read));
                }

                Interlocked.Increment(ref _requests);
                await stream.WriteAsync("HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\nContent-Length: 100000\r\n\r\n"u8.ToArray(), _stop.Token);
                await stream.WriteAsync(new byte[1000], _stop.Token);
                await Task.Delay(Timeout.Infinite, _stop.Token);   // silent until the test ends
            }
            catch (Exception e) when (e is OperationCanceledException or IOException or SocketException)
            {
            }
        }
    }
}
