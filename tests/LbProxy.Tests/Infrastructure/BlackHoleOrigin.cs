using System.Net;
using System.Net.Sockets;

namespace LbProxy.Tests.Infrastructure;

/// <summary>
/// A listening socket at 127.0.0.1:0 that never accepts: the kernel completes each connect into the accept queue and
/// the request sent on it gets no answer, as from an origin that is up but hung. With <c>full</c>, the accept queue is
/// filled first (backlog 1, by connects of its own), so the kernel drops every further SYN and a connect times out, as
/// to an origin whose accept queue overflows.
/// </summary>
internal sealed class BlackHoleOrigin : IDisposable
{
    private readonly Socket _listener = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
    private readonly List<Socket> _fillers = [];

    public BlackHoleOrigin(bool full = false)
    {
        _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _listener.Listen(full ? 1 : 512);
        var endpoint = (IPEndPoint)_listener.LocalEndPoint!;
        Address = new Uri($"http://127.0.0.1:{endpoint.Port}/");
        if (full)
        {
            // Linux queues backlog + 1 connections; a third connect is left pending, its SYN dropped.
            for (var i = 0; i < 3; i++)
            {
                var filler = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                _fillers.Add(filler);
                _ = filler.ConnectAsync(endpoint).ContinueWith(static t => _ = t.Exception, TaskScheduler.Default);
            }
        }
    }

    public Uri Address { get; }

    public void Dispose()
    {
        foreach (var filler in _fillers)
        {
            filler.Dispose();
        }

        _listener.Dispose();
    }
}
