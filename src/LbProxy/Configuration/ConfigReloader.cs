using System.Runtime.InteropServices;
using System.Threading.Channels;
using Microsoft.Extensions.Options;

namespace LbProxy.Configuration;

/// <summary>
/// Applies edits of the config file live. It watches the file's directory rather than the file, which catches
/// in-place writes, atomic renames, delete-and-recreate and the <c>..data</c> symlink swap of a Kubernetes
/// ConfigMap; polls as a fallback; waits for the file to settle; and then loads, validates and applies the
/// whole file, or refuses it whole. A refusal never disarms anything: the next good write applies.
/// </summary>
internal sealed partial class ConfigReloader : BackgroundService
{
    private const string MissingFileHash = "missing";
    private readonly string _path;
    private readonly string _fileName;
    private readonly ConfigLoader _loader;
    private readonly ConfigApplier _applier;
    private readonly ConfigState _state;
    private readonly ConfigReloadOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<ConfigReloader> _logger;

    // Capacity one, newest dropped: a burst of events is one pending reload, never a queue of them.
    private readonly Channel<bool> _triggers = Channel.CreateBounded<bool>(
        new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });

    private readonly SemaphoreSlim _reloadGate = new(1, 1);
    private string? _lastRejectedHash;

    public ConfigReloader(
        LbProxyConfigFile initial,
        ConfigLoader loader,
        ConfigApplier applier,
        ConfigState state,
        IOptions<ConfigReloadOptions> options,
        TimeProvider time,
        ILogger<ConfigReloader> logger)
    {
        _path = initial.FullPath;
        _fileName = Path.GetFileName(_path);
        _loader = loader;
        _applier = applier;
        _state = state;
        _options = options.Value;
        _time = time;
        _logger = logger;
    }

    private volatile bool _forced;

    /// <summary>Asks for a re-read of the file; cheap and safe from any thread.</summary>
    public void Trigger() => _triggers.Writer.TryWrite(true);

    /// <summary>
    /// As <see cref="Trigger"/>, and re-validates the file even if its content was refused before (SIGHUP):
    /// a refusal caused by something outside the file, such as the environment, can then be retried.
    /// </summary>
    public void TriggerForced()
    {
        _forced = true;
        Trigger();
    }

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
                await ReloadAsync();
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }

        await polling;
    }

    /// <summary>Loads the file as it is now, and applies it or refuses it. Also the body of every test reload.</summary>
    internal async Task<ConfigStatus> ReloadAsync()
    {
        await _reloadGate.WaitAsync();
        try
        {
            return await ReloadCoreAsync();
        }
        finally
        {
            _reloadGate.Release();
        }
    }

    public override void Dispose()
    {
        _reloadGate.Dispose();
        base.Dispose();
    }

    private async Task<ConfigStatus> ReloadCoreAsync()
    {
        byte[] content;
        try
        {
            content = await File.ReadAllBytesAsync(_path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            var reason = e is FileNotFoundException or DirectoryNotFoundException ? "the config file is missing" : e.Message;
            return Refuse(MissingFileHash, [new ConfigError(_path, null, null, null, reason)]);
        }

        var hash = ConfigState.HashOf(content);
        if (hash == _state.Current.Hash)
        {
            _lastRejectedHash = null;
            LogUnchanged(_logger, _path);
            return _state.RecordUnchanged();
        }

        var forced = _forced;
        _forced = false;
        if (hash == _lastRejectedHash && !forced)
        {
            // Already refused and logged; a second event for the same bytes says nothing new.
            return _state.Current;
        }

        if (forced)
        {
            _lastRejectedHash = null;
        }

        ConfigLoadResult result;
        try
        {
            result = await _loader.LoadAsync(LbProxyConfigFile.Parse(_path, content));
        }
        catch (ConfigFileException e)
        {
            return Refuse(hash, e.Errors);
        }

        if (!result.Succeeded)
        {
            return Refuse(hash, result.Errors);
        }

        ConfigStatus applied;
        try
        {
            applied = _applier.Apply(result.Candidate!);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // Every section is validated before this point; a listener that still throws must not end reloading.
            return Refuse(hash, [new ConfigError(_path, null, null, null, $"applying the config failed: {ProxyConfigValidator.Describe(e)}")]);
        }

        _lastRejectedHash = null;
        LogApplied(_logger, applied.Generation, _path, applied.Hash);
        return applied;
    }

    private ConfigStatus Refuse(string hash, IReadOnlyList<ConfigError> errors)
    {
        if (hash == _lastRejectedHash)
        {
            return _state.Current;
        }

        _lastRejectedHash = hash;
        var message = string.Join(Environment.NewLine, errors);
        LogRefused(_logger, _state.Current.Generation, errors.Count, message);
        return _state.RecordRejected(message);
    }

    private async Task SettleAsync(CancellationToken cancellationToken)
    {
        // Wait until no event has come for one settle delay, but no longer than 20 of them: a file that
        // never stops changing is still read, and refused if it is half-written.
        for (var i = 0; i < 20; i++)
        {
            await Task.Delay(_options.SettleDelay, _time, cancellationToken);
            if (!_triggers.Reader.TryRead(out _))
            {
                return;
            }
        }
    }

    private async Task PollAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(_options.PollInterval, _time);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                var hash = HashOnDisk();
                if (hash != _state.Current.Hash && hash != _lastRejectedHash)
                {
                    Trigger();
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    private string HashOnDisk()
    {
        try
        {
            return ConfigState.HashOf(File.ReadAllBytes(_path));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return MissingFileHash;
        }
    }

    private FileSystemWatcher? CreateWatcher()
    {
        try
        {
            var watcher = new FileSystemWatcher(Path.GetDirectoryName(_path)!)
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
            LogWatcherUnavailable(_logger, e, _path);
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
        LogWatcherError(_logger, e.GetException());
        Trigger();
    }

    private PosixSignalRegistration? RegisterSighup()
    {
        try
        {
            return PosixSignalRegistration.Create(PosixSignal.SIGHUP, context =>
            {
                context.Cancel = true; // SIGHUP re-reads the config; it does not end the process
                LogSighup(_logger);
                TriggerForced();
            });
        }
        catch (PlatformNotSupportedException)
        {
            return null;
        }
    }

    [LoggerMessage(EventId = 1101, Level = LogLevel.Information, Message = "Config generation {Generation} applied from {Path} (hash {Hash})")]
    private static partial void LogApplied(ILogger logger, long generation, string path, string hash);

    [LoggerMessage(EventId = 1102, Level = LogLevel.Error, Message = "Config reload refused, generation {Generation} keeps serving; {Count} error(s):\n{Errors}")]
    private static partial void LogRefused(ILogger logger, long generation, int count, string errors);

    [LoggerMessage(EventId = 1103, Level = LogLevel.Debug, Message = "Config file {Path} changed on disk but not in content")]
    private static partial void LogUnchanged(ILogger logger, string path);

    [LoggerMessage(EventId = 1104, Level = LogLevel.Warning, Message = "Cannot watch {Path}; relying on polling")]
    private static partial void LogWatcherUnavailable(ILogger logger, Exception exception, string path);

    [LoggerMessage(EventId = 1105, Level = LogLevel.Warning, Message = "Config file watcher failed; the file is re-read")]
    private static partial void LogWatcherError(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 1106, Level = LogLevel.Information, Message = "SIGHUP: re-reading the config file")]
    private static partial void LogSighup(ILogger logger);
}
