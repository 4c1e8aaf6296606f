using System.Net;
using System.Net.Sockets;
using System.Text;

/// <summary>
/// Answers each TCP connection on 127.0.0.1:$BENCH_ALLOC_PORT with one line, the process's managed bytes allocated
/// since start (<see cref="GC.GetTotalAllocatedBytes(bool)"/>), then closes it. It runs beside the app, not through
/// its HTTP pipeline, so the same figure is read the same way from LbProxy and from bare YARP, and reading it is
/// neither a request of the app nor a significant allocation of its own.
/// </summary>
internal static class StartupHook
{
    public static void Initialize()
    {
        if (!int.TryParse(Environment.GetEnvironmentVariable("BENCH_ALLOC_PORT"), out var port))
        {
            return;
        }
        // Not before the app's Main: the first socket of a process fixes the socket engine's settings, which LbProxy
        // sets in Main (inline completions). Kestrel's assembly loads after Main has begun, in both apps.
        var started = 0;
        AppDomain.CurrentDomain.AssemblyLoad += (_, loaded) =>
        {
            if (loaded.LoadedAssembly.GetName().Name == "Microsoft.AspNetCore.Server.Kestrel.Core" && Interlocked.Exchange(ref started, 1) == 0)
            {
                var thread = new Thread(() => Serve(port)) { IsBackground = true, Name = "bench-alloc-probe" };
                thread.Start();
            }
        };
    }

    private static void Serve(int port)
    {
        var listener = new TcpListener(IPAddress.Loopback, port);
        listener.Start();
        while (true)
        {
            using var client = listener.AcceptSocket();
            var line = GC.GetTotalAllocatedBytes(precise: true).ToString(System.Globalization.CultureInfo.InvariantCulture) + "\n";
            client.Send(Encoding.ASCII.GetBytes(line));
            client.Shutdown(SocketShutdown.Both);
        }
    }
}
