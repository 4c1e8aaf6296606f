namespace LbProxy.Configuration;

/// <summary>
/// Decides what becomes of the config file as it is now: reads it, recognises content already applied or
/// already refused, and loads, validates and applies the whole file, or refuses it whole. A refusal keeps the
/// last good config serving and is logged once per content. <see cref="ConfigFileWatcher"/> says when to look.
/// </summary>
internal sealed partial class ConfigReloader : IDisposable
{
    private const string MissingFileHash = "missing";
    private readonly string _path;
    private readonly ConfigLoader _loader;
    private readonly ConfigApplier _applier;
    private readonly ConfigState _state;
    private readonly ILogger<ConfigReloader> _logger;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private volatile string? _lastRejectedHash;

    public ConfigReloader(LbProxyConfigFile initial, ConfigLoader loader, ConfigApplier applier, ConfigState state, ILogger<ConfigReloader> logger)
    {
        _path = initial.FullPath;
        _loader = loader;
        _applier = applier;
        _state = state;
        _logger = logger;
    }

    public string Path => _path;

    /// <summary>
    /// Loads the file as it is now, and applies it or refuses it. <paramref name="forced"/> (SIGHUP) validates
    /// content refused before once more: a refusal caused by something outside the file can then be retried.
    /// </summary>
    public async Task<ConfigStatus> ReloadAsync(bool forced = false)
    {
        await _gate.WaitAsync();
        try
        {
            return await ReloadCoreAsync(forced);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Whether the file on disk holds content neither applied nor already refused: the poller's question.</summary>
    public bool HasNewContentOnDisk()
    {
        string hash;
        try
        {
            hash = ConfigState.HashOf(LbProxyConfigFile.Read(_path));
        }
        catch (ConfigFileException)
        {
            hash = MissingFileHash;
        }

        var current = _state.Current;
        // The served content back on disk after a refusal is news too: it ends the failure.
        return hash == current.Hash ? !current.LastReloadSucceeded : hash != _lastRejectedHash;
    }

    public void Dispose() => _gate.Dispose();

    private async Task<ConfigStatus> ReloadCoreAsync(bool forced)
    {
        byte[] content;
        try
        {
            content = LbProxyConfigFile.Read(_path);
        }
        catch (ConfigFileException e)
        {
            return Refuse(MissingFileHash, e.Errors);
        }

        var hash = ConfigState.HashOf(content);
        if (hash == _state.Current.Hash)
        {
            _lastRejectedHash = null;
            if (!_state.Current.LastReloadSucceeded)
            {
                LogReverted(_logger, _path, _state.Current.Generation);
                return _state.RecordReverted();
            }

            LogUnchanged(_logger, _path);
            return _state.RecordUnchanged();
        }

        if (forced)
        {
            _lastRejectedHash = null;
        }
        else if (hash == _lastRejectedHash)
        {
            // Already refused and logged; a second event for the same bytes says nothing new.
            return _state.Current;
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

    [LoggerMessage(EventId = LogEvents.ConfigApplied, Level = LogLevel.Information, Message = "Config generation {Generation} applied from {Path} (hash {Hash})")]
    private static partial void LogApplied(ILogger logger, long generation, string path, string hash);

    [LoggerMessage(EventId = LogEvents.ConfigRefused, Level = LogLevel.Error, Message = "Config reload refused, generation {Generation} keeps serving; {Count} error(s):\n{Errors}")]
    private static partial void LogRefused(ILogger logger, long generation, int count, string errors);

    [LoggerMessage(EventId = LogEvents.ConfigReverted, Level = LogLevel.Information, Message = "Config file {Path} holds the served generation {Generation} again: the refused edit is reverted, reloads succeed")]
    private static partial void LogReverted(ILogger logger, string path, long generation);

    [LoggerMessage(EventId = LogEvents.ConfigUnchanged, Level = LogLevel.Debug, Message = "Config file {Path} changed on disk but not in content")]
    private static partial void LogUnchanged(ILogger logger, string path);
}
