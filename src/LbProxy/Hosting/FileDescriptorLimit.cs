using System.Runtime.InteropServices;

namespace LbProxy.Hosting;

/// <summary>
/// The process's file-descriptor limit (<c>RLIMIT_NOFILE</c>), raised at start from the soft limit to the hard one
/// (as nginx's <c>worker_rlimit_nofile</c> and systemd services do), and the share of it each side of the proxy may
/// hold: client connections (Kestrel's <c>MaxConcurrentConnections</c>) and upstream connections
/// (<c>LbProxy:Forwarding:MaxConnections</c>). Without such caps each HTTP/2 stream opened its own upstream connection,
/// 8 clients × 100 streams became 800 sockets, and under <c>ulimit -n 1024</c> the runtime ran out of descriptors for
/// its own files and aborted ("Out of memory.", exit 134). Linux and macOS; elsewhere nothing is raised or capped.
/// </summary>
internal static partial class FileDescriptorLimit
{
    /// <summary>
    /// Descriptors kept for the process itself, never given to connections: the JIT build holds each assembly it loads
    /// open (~250 at start, measured with <c>ls /proc/PID/fd</c> after one proxied request), and it loads more later;
    /// then the config and certificate files, the access log, epoll, pipes, the health probes' connections.
    /// </summary>
    public const long Reserve = 384;

    /// <summary>
    /// Below this limit LbProxy refuses to start: the reserve and 128 connections. Under <c>ulimit -n 256</c> the JIT
    /// build aborted while loading its assemblies, before it could serve anything.
    /// </summary>
    public const long Minimum = 512;

    /// <summary>The exit code of a start refused for a limit below <see cref="Minimum"/> (EX_OSERR of sysexits.h).</summary>
    public const int ExitTooLow = 71;

    /// <summary>Limits above this count as this: caps past a million connections per side mean no cap.</summary>
    private const long Ceiling = 1 << 20;

    private static long _limit = -1;

    /// <summary>The soft limit in force (after <see cref="Raise"/>); <see cref="Ceiling"/> where it cannot be read.</summary>
    public static long Current
    {
        get
        {
            if (Volatile.Read(ref _limit) < 0)
            {
                Volatile.Write(ref _limit, Read()?.Soft is { } soft ? Math.Min(soft, Ceiling) : Ceiling);
            }

            return Volatile.Read(ref _limit);
        }
    }

    /// <summary>Descriptors for connections: the limit less the reserve.</summary>
    public static long ForConnections => Math.Max(0, Current - Reserve);

    /// <summary>Upstream connections of the forwarder, all destinations together: half the connection share.</summary>
    public static int UpstreamConnections => (int)Math.Max(1, ForConnections / 2);

    /// <summary>Upgraded client connections (WebSocket), which Kestrel counts apart from the others: a sixteenth.</summary>
    public static int UpgradedClientConnections => (int)Math.Max(1, ForConnections / 16);

    /// <summary>Client connections: the other half, less the upgraded ones.</summary>
    public static int ClientConnections => (int)Math.Max(1, ForConnections / 2 - UpgradedClientConnections);

    /// <summary>
    /// Raises the soft limit to the hard one, then returns null, or the message to exit with when the limit is below
    /// <see cref="Minimum"/>. Call first in <c>Main</c>: it must run before the runtime loads the assemblies it would
    /// abort on.
    /// </summary>
    public static string? Raise()
    {
        if (Read() is not { } limit)
        {
            return null;
        }

        var soft = limit.Soft;
        if (soft < limit.Hard && Set(limit with { Soft = limit.Hard }))
        {
            soft = limit.Hard;
        }

        Volatile.Write(ref _limit, Math.Min(soft, Ceiling));
        return soft >= Minimum ? null : TooLowMessage(soft, limit.Hard);
    }

    internal static string TooLowMessage(long soft, long hard) =>
        FormattableString.Invariant(
            $"cannot start: the file-descriptor limit (RLIMIT_NOFILE) is {soft} (hard limit {hard}); LbProxy needs at least {Minimum}: raise it with `ulimit -n {Minimum}` or more, LimitNOFILE= in a systemd unit, or --ulimit nofile= for a container");

    private readonly record struct Limit(long Soft, long Hard);

    private static int Resource => OperatingSystem.IsMacOS() ? 8 : 7; // RLIMIT_NOFILE: 7 on Linux, 8 on macOS and the BSDs

    private static Limit? Read()
    {
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS())
        {
            return null;
        }

        try
        {
            if (GetRLimit(Resource, out var value) != 0)
            {
                return null;
            }

            // rlim_t is unsigned; RLIM_INFINITY reads as a huge (or, cast, negative) number.
            return new Limit(Clamp(value.Current), Clamp(value.Maximum));
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return null;
        }
    }

    private static long Clamp(ulong value) => value > long.MaxValue ? long.MaxValue : (long)value;

    private static bool Set(Limit limit)
    {
        try
        {
            var value = new RLimit { Current = (ulong)limit.Soft, Maximum = (ulong)limit.Hard };
            return SetRLimit(Resource, in value) == 0;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false;
        }
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct RLimit
    {
        public ulong Current;
        public ulong Maximum;
    }

    [LibraryImport("libc", EntryPoint = "getrlimit", SetLastError = true)]
    private static partial int GetRLimit(int resource, out RLimit limit);

    [LibraryImport("libc", EntryPoint = "setrlimit", SetLastError = true)]
    private static partial int SetRLimit(int resource, in RLimit limit);
}
