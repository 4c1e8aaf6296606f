using Microsoft.Extensions.Options;

namespace LbProxy.Control;

/// <summary>
/// The first step of a stop (SIGTERM, Ctrl+C): readiness turns 503 at once, and requests are still served
/// for <see cref="ControlOptions.ShutdownGrace"/>, so that an outer balancer sees the 503 and deregisters the
/// proxy before Kestrel stops accepting connections. Then the host stops Kestrel, which lets in-flight
/// requests finish within <see cref="ControlOptions.DrainTimeout"/> (the rest of HostOptions.ShutdownTimeout).
/// </summary>
internal sealed partial class GracefulShutdown(
    Readiness readiness,
    IOptions<ControlOptions> options,
    TimeProvider time,
    ILogger<GracefulShutdown> logger) : IHostedLifecycleService
{
    /// <summary>Runs before any hosted service's StopAsync, so Kestrel still serves during the delay.</summary>
    public async Task StoppingAsync(CancellationToken cancellationToken)
    {
        readiness.BeginDraining();
        var grace = options.Value.ShutdownGrace;
        LogDraining(logger, grace.TotalSeconds, options.Value.DrainTimeout.TotalSeconds);
        if (grace <= TimeSpan.Zero)
        {
            return;
        }

        try
        {
            await Task.Delay(grace, time, cancellationToken);
        }
        catch (OperationCanceledException)
        {
            // The host's shutdown timeout ran out during the grace period: go on stopping.
        }
    }

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(EventId = LogEvents.Draining, Level = LogLevel.Information,
        Message = "Stopping: readiness is 503; serving for {GraceSeconds} s more, then in-flight requests get {DrainSeconds} s")]
    private static partial void LogDraining(ILogger logger, double graceSeconds, double drainSeconds);
}
