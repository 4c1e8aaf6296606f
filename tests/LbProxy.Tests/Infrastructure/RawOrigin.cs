using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace LbProxy.Tests.Infrastructure;

/// <summary>
/// An origin on a plain socket at 127.0.0.1:0 that answers every request with the same raw bytes, one request per
/// connection, and keeps the head of each request it read: for responses no ASP.NET Core origin would send (several
/// <c>Connection</c> headers, odd spellings) and for seeing the exact bytes the proxy forwarded.
/// </summary>
internal sealed class RawOrigin : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly byte[] _response;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;
    private readonly ConcurrentQueue<string> _heads = new();

    private RawOrigin(string response)
    {
        _response = Encoding.Latin1.GetBytes(response);
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start();
        Address = new Uri($"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}/");
        _accepting = AcceptAsync();
    }

    public Uri Address { get; }

    /// <summary>The request heads received so far, each as Latin-1 text (one char per byte).</summary>
    public IReadOnlyCollection<string> Heads => _heads;

    /// <summary>Starts an origin that answers <paramref name="response"/>, which must end its own head with CRLF CRLF.</summary>
    public static RawOrigin Start(string response) => new(response);

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }

            _ = ServeAsync(client);
        }
    }

    private async Task ServeAsync(TcpClient client)
    {
        using (client)
        {
            try
            {
                var stream = client.GetStream();
                var received = new MemoryStream();
                var buffer = new byte[8192];
                int end;
                while ((end = received.GetBuffer().AsSpan(0, (int)received.Length).IndexOf("\r\n\r\n"u8)) < 0)
                {
                    var read = await stream.ReadAsync(buffer, _stop.Token);
                    if (read == 0)
                    {
                        return;
                    }

                    received.Write(buffer, 0, read);
                }

                _heads.Enqueue(Encoding.Latin1.GetString(received.GetBuffer(), 0, end + 4));
                await stream.WriteAsync(_response, _stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or IOException or SocketException)
            {
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _accepting;
        _stop.Dispose();
    }
}
