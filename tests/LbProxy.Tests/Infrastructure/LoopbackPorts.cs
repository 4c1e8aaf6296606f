using System.Net;
using System.Net.Sockets;

namespace LbProxy.Tests.Infrastructure;

internal static class LoopbackPorts
{
    /// <summary>A loopback port where nothing listens (it was free a moment ago): connections to it are refused at once.</summary>
    public static int Unused()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public static Uri UnusedAddress() => new($"http://127.0.0.1:{Unused()}/");
}
