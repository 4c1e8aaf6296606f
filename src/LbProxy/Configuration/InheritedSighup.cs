using System.Runtime.InteropServices;

namespace LbProxy.Configuration;

/// <summary>
/// A process started under <c>nohup</c> (or by a parent that ignores SIGHUP) inherits SIGHUP as ignored, and .NET
/// then installs no handler for it: <c>PosixSignalRegistration</c> succeeds and the signal never arrives (measured:
/// <c>SigCgt</c> in <c>/proc/PID/status</c> lacks SIGHUP, and <c>kill -HUP</c> did nothing). Setting the disposition
/// back to the default just before the registration lets .NET install its handler, which cancels the default action
/// (SIGHUP re-reads the config, it never ends the process), so nothing of nohup's purpose is lost.
/// </summary>
internal static partial class InheritedSighup
{
    private const int Sighup = 1;
    private const nint SigDfl = 0;
    private const nint SigIgn = 1;

    /// <summary>Whether SIGHUP was ignored, now set back to the default; to call right before registering a handler.</summary>
    public static unsafe bool RearmIfIgnored()
    {
        if (!OperatingSystem.IsLinux())
        {
            return false;
        }

        // struct sigaction begins with the handler (a pointer) on every Linux architecture .NET runs on.
        var current = stackalloc byte[512];
        if (SigAction(Sighup, null, current) != 0 || *(nint*)current != SigIgn)
        {
            return false;
        }

        return Signal(Sighup, SigDfl) == SigIgn;
    }

    [LibraryImport("libc", EntryPoint = "sigaction", SetLastError = true)]
    private static unsafe partial int SigAction(int signal, byte* action, byte* previous);

    [LibraryImport("libc", EntryPoint = "signal", SetLastError = true)]
    private static partial nint Signal(int signal, nint handler);
}
