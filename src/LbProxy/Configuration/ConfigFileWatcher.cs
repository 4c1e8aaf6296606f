using System.Runtime.InteropServices;
using System.Threading.Channels;
using Microsoft.Extensions.Options;

namespace LbProxy.Configuration;

/// <summary>
/// Notices that the config file may have changed and asks <see cref="ConfigReloader"/> to look. It watches the
/// file's directory rather than the file, which catches in-place writes, atomic renames, delete-and-recreate and
/// the <c>..data</c> symlink swap of a Kubernetes ConfigMap; polls as a fallback; re-reads on SIGHUP; and waits
/// for the file to settle, so that a burst of events is one reload.
/// </summary>
internal sealed partial class ConfigFileWatcher(
    ConfigReloader reloader,
    IOptions<ConfigReloadOptions> options,
    TimeProvider time,
    ILogger<ConfigFileWatcher> logger) : BackgroundService
{
    private readonly ConfigReloadOptions _options = options.Value;
    private readonly string _fileName = Path.GetFileName(reloader.Path);

    // Capacity one, newest dropped: a burst of events is one pending reload, never a queue of them.
    private readonly Channel<bool> _triggers = Channel.CreateBounded<bool>(
        new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });

    private volatile bool _forced;

    /// <summary>Asks for a re-read of the file; cheap and safe from any thread.</summary>
    public void Trigger() => _triggers.Writer.TryWrite(true);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var sighup = RegisterSighup();
        using var watcher = _options.Watch ? CreateWatcher() : null;
        var polling = _options.Watch ? PollAsync(stoppingToken) : Task.CompletedTask;
        try
        {
            await foreach (var _ in _triggers.Reader.ReadAllAsync(stoppingToken))
            {
                await SettleAsync(stoppingToken);
                var forced = _forced;
                _forced = false;
                await reloader.ReloadAsync(forced);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }

        await polling;
    }

    private async Task SettleAsync(CancellationToken cancellationToken)
    {
        // Wait until no event has come for one settle delay, but no longer than 20 of them: a file that
        // never stops changing is still read, and refused if it is half-written.
        for (var i = 0; i < 20; i++)
        {
            await Task.Delay(_options.SettleDelay, time, cancellationToken);
            if (!_triggers.Reader.TryRead(out _))
            {
                return;
            }
        }
    }

    private async Task PollAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(_options.PollInterval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                if (reloader.HasNewContentOnDisk())
                {
                    Trigger();
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    private FileSystemWatcher? CreateWatcher()
    {
        try
        {
            var watcher = new FileSystemWatcher(Path.GetDirectoryName(reloader.Path)!)
            {
                IncludeSubdirectories = false,
                NotifyFilter = NotifyFilters.FileName | NotifyFilters.DirectoryName | NotifyFilters.LastWrite
                    | NotifyFilters.Size | NotifyFilters.CreationTime,
            };
            watcher.Changed += OnFileEvent;
            watcher.Created += OnFileEvent;
            watcher.Deleted += OnFileEvent;
            watcher.Renamed += OnFileEvent;
            watcher.Error += OnWatcherError;
            watcher.EnableRaisingEvents = true;
            return watcher;
        }
        catch (Exception e) when (e is IOException or ArgumentException or PlatformNotSupportedException)
        {
            LogWatcherUnavailable(logger, e, reloader.Path);
            return null;
        }
    }

    private void OnFileEvent(object sender, FileSystemEventArgs e)
    {
        // The file itself, or a Kubernetes ConfigMap's "..data" link and "..2026_..." folders.
        if (e.Name == _fileName || (e is RenamedEventArgs renamed && renamed.OldName == _fileName)
            || (e.Name?.StartsWith("..", StringComparison.Ordinal) ?? false))
        {
            Trigger();
        }
    }

    private void OnWatcherError(object sender, ErrorEventArgs e)
    {
        LogWatcherError(logger, e.GetException());
        Trigger();
    }

    private PosixSignalRegistration? RegisterSighup()
    {
        try
        {
            if (InheritedSighup.RearmIfIgnored())
            {
                LogSighupRearmed(logger);
            }

            return PosixSignalRegistration.Create(PosixSignal.SIGHUP, context =>
            {
                context.Cancel = true; // SIGHUP re-reads the config; it does not end the process
                LogSighup(logger);
                _forced = true;
                Trigger();
            });
        }
        catch (PlatformNotSupportedException)
        {
            return null;
        }
    }

    [LoggerMessage(EventId = LogEvents.ConfigWatcherUnavailable, Level = LogLevel.Warning, Message = "Cannot watch {Path}; relying on polling")]
    private static partial void LogWatcherUnavailable(ILogger logger, Exception exception, string path);

    [LoggerMessage(EventId = LogEvents.ConfigWatcherFailed, Level = LogLevel.Warning, Message = "Config file watcher failed; the file is re-read")]
    private static partial void LogWatcherError(ILogger logger, Exception exception);

    [LoggerMessage(EventId = LogEvents.ConfigSighupRearmed, Level = LogLevel.Warning,
        Message = "SIGHUP was inherited as ignored (nohup); re-armed: SIGHUP re-reads the config file and never ends the process")]
    private static partial void LogSighupRearmed(ILogger logger);

    [LoggerMessage(EventId = LogEvents.ConfigSighup, Level = LogLevel.Information, Message = "SIGHUP: re-reading the config file")]
    private static partial void LogSighup(ILogger logger);
}
