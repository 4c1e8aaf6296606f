using System.Runtime.InteropServices;
using Serilog.Events;

namespace LbProxy.Logging;

/// <summary>
/// <c>kill -USR1</c> switches the log to Debug, <c>kill -USR2</c> back to the configured level: for an
/// operator with a shell on the box but no token for the loglevel endpoint.
/// </summary>
internal sealed class LogLevelSignals(LogLevelControl levels) : IHostedService
{
    private readonly List<PosixSignalRegistration> _registrations = [];

    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (OperatingSystem.IsWindows())
        {
            return Task.CompletedTask;
        }

        // PosixSignal names only the portable signals; others are passed as their raw numbers, which differ by OS.
        var (usr1, usr2) = OperatingSystem.IsMacOS() || OperatingSystem.IsFreeBSD() ? (30, 31) : (10, 12);
        _registrations.Add(PosixSignalRegistration.Create((PosixSignal)usr1, OnUsr1));
        _registrations.Add(PosixSignalRegistration.Create((PosixSignal)usr2, OnUsr2));
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        foreach (var registration in _registrations)
        {
            registration.Dispose();
        }

        _registrations.Clear();
        return Task.CompletedTask;
    }

    private void OnUsr1(PosixSignalContext context)
    {
        context.Cancel = true;
        levels.Set(LogEventLevel.Debug, null, "SIGUSR1");
    }

    private void OnUsr2(PosixSignalContext context)
    {
        context.Cancel = true;
        levels.Reset("SIGUSR2");
    }
}
