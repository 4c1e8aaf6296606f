using Microsoft.Extensions.Options;

namespace LbProxy.Tls;

/// <summary>
/// Reads every certificate pair the config names, at an interval, following symlinks: in-place rewrites, atomic
/// renames and a Kubernetes secret's <c>..data</c> swap all show as new content. A pair that has read the same twice
/// in a row is judged: a good one is staged for Kestrel, a bad one is refused, logged once with its path and counted,
/// and the last good one keeps serving.
/// </summary>
internal sealed partial class TlsCertificateWatcher(
    TlsCertificateStage stage,
    IConfiguration configuration,
    IHostEnvironment environment,
    IOptions<TlsOptions> options,
    TimeProvider time,
    TlsMetrics metrics,
    ILogger<TlsCertificateWatcher> logger) : BackgroundService
{
    private readonly Dictionary<string, string> _lastRead = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, (string Hash, DateTimeOffset? JudgeAgainAt)> _refused = new(StringComparer.OrdinalIgnoreCase);

    public TlsMetrics Metrics { get; } = metrics;

    /// <summary>Serves the good pairs of the config read at start, before Kestrel reads its endpoints.</summary>
    public static void StageInitial(TlsCertificateStage stage, IConfiguration operatorView, string contentRoot, DateTimeOffset now)
    {
        if (TlsCertificateCheck.UnwritableStaging(stage.ConfiguredDirectory) is not null)
        {
            // Nothing can be staged: TlsCertificateCheck refuses the config, with its place, in validate and at start.
            return;
        }

        foreach (var reference in CertificateReference.Read(operatorView, contentRoot))
        {
            var files = CertificateFiles.Read(reference);
            var certificate = files.Inspect(now, []);
            if (certificate is not null)
            {
                stage.Stage(files, certificate, notify: false);
            }
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.PollInterval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                try
                {
                    Poll();
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    // Never the end of watching: the next poll reads every pair again.
                    LogPollFailed(logger, e);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        stage.DeleteDirectory();
    }

    internal void Poll()
    {
        var root = (IConfigurationRoot)configuration;
        var view = Configuration.LiveFileConfigurationSource.OperatorView(root);
        foreach (var reference in CertificateReference.Read(view, environment.ContentRootPath))
        {
            var files = CertificateFiles.Read(reference);
            var key = reference.ConfigKey;
            if (files.Hash == stage.ServedHash(key))
            {
                _lastRead.Remove(key);
                continue;
            }

            // Judged only once it reads the same twice: a file being written, or a key without its certificate yet, is not.
            if (!_lastRead.TryGetValue(key, out var last) || last != files.Hash)
            {
                _lastRead[key] = files.Hash;
                continue;
            }

            var now = time.GetUtcNow();
            if (_refused.TryGetValue(key, out var refused) && refused.Hash == files.Hash && !(now >= refused.JudgeAgainAt))
            {
                continue;
            }

            var problems = new List<string>();
            var certificate = files.Inspect(now, problems);
            if (certificate is null)
            {
                var again = _refused.ContainsKey(key) && _refused[key].Hash == files.Hash;
                // A certificate issued by a clock a little ahead becomes good by itself: it is judged again then.
                _refused[key] = (files.Hash, files.NotBefore > now ? files.NotBefore : null);
                if (!again)
                {
                    stage.CountRefused();
                    LogRefused(logger, reference.Path, reference.Sni, problems);
                }

                continue;
            }

            _refused.Remove(key);
            stage.Stage(files, certificate, notify: true);
            var notAfter = certificate.NotAfter.ToUniversalTime();
            LogApplied(logger, reference.Path, reference.Sni, certificate.Subject, notAfter);
        }
    }

    [LoggerMessage(EventId = LogEvents.TlsCertificateApplied, Level = LogLevel.Information,
        Message = "Certificate {Path} for SNI {Sni} applied: {Subject}, valid until {NotAfter:u}")]
    private static partial void LogApplied(ILogger logger, string path, string sni, string subject, DateTime notAfter);

    [LoggerMessage(EventId = LogEvents.TlsCertificateRefused, Level = LogLevel.Error,
        Message = "Certificate {Path} for SNI {Sni} refused; the last good one keeps serving: {Problems}")]
    private static partial void LogRefused(ILogger logger, string path, string sni, List<string> problems);

    [LoggerMessage(EventId = LogEvents.TlsPollFailed, Level = LogLevel.Error, Message = "Checking the certificate files failed; they are read again at the next poll")]
    private static partial void LogPollFailed(ILogger logger, Exception exception);
}
