using System.Security.Cryptography;

namespace LbProxy.Configuration;

/// <summary>
/// The one place that knows which config generation is applied. The loader records every outcome here;
/// the control plane and the metrics read <see cref="Current"/>, an immutable snapshot swapped by reference.
/// </summary>
internal sealed class ConfigState
{
    private readonly TimeProvider _time;
    private readonly Lock _writeLock = new();
    private ConfigStatus _current;

    public ConfigState(LbProxyConfigFile file, TimeProvider time)
    {
        _time = time;
        _current = new ConfigStatus(file.FullPath, 1, file.Hash, time.GetUtcNow(), true, null, null, 0, 0, 0);
    }

    public ConfigStatus Current => Volatile.Read(ref _current);

    /// <summary>Raised after every recorded outcome (applied, refused, unchanged), on the reloading thread.</summary>
    public event Action<ConfigStatus>? Changed;

    public static string HashOf(ReadOnlySpan<byte> content) => Convert.ToHexStringLower(SHA256.HashData(content))[..16];

    /// <summary>A new config was applied: the generation moves on.</summary>
    public ConfigStatus RecordApplied(string hash) => Update(static (s, now, hash) => s with
    {
        Generation = s.Generation + 1,
        Hash = hash!,
        AppliedAt = now,
        LastReloadSucceeded = true,
        ReloadsApplied = s.ReloadsApplied + 1,
    }, hash);

    /// <summary>A reload was refused: the last good config keeps serving and the generation stays.</summary>
    public ConfigStatus RecordRejected(string error) => Update(static (s, now, error) => s with
    {
        LastReloadSucceeded = false,
        LastError = error,
        LastErrorAt = now,
        ReloadsRejected = s.ReloadsRejected + 1,
    }, error);

    /// <summary>
    /// The file on disk holds the served content again after a refused edit (a revert, or SIGHUP after one): the file
    /// and the proxy agree, which is success; the generation stays, the last error stays as history.
    /// </summary>
    public ConfigStatus RecordReverted() => Update(static (s, _, _) => s with
    {
        LastReloadSucceeded = true,
        ReloadsUnchanged = s.ReloadsUnchanged + 1,
    }, null);

    /// <summary>The file changed on disk but its content did not.</summary>
    public ConfigStatus RecordUnchanged() => Update(static (s, _, _) => s with
    {
        ReloadsUnchanged = s.ReloadsUnchanged + 1,
    }, null);

    private ConfigStatus Update(Func<ConfigStatus, DateTimeOffset, string?, ConfigStatus> change, string? argument)
    {
        ConfigStatus next;
        lock (_writeLock)
        {
            next = change(_current, _time.GetUtcNow(), argument);
            Volatile.Write(ref _current, next);
        }

        Changed?.Invoke(next);
        return next;
    }
}

/// <summary>What the running config is and how its last reloads went, as status and metrics show it.</summary>
internal sealed record ConfigStatus(
    string Path,
    long Generation,
    string Hash,
    DateTimeOffset AppliedAt,
    bool LastReloadSucceeded,
    string? LastError,
    DateTimeOffset? LastErrorAt,
    long ReloadsApplied,
    long ReloadsRejected,
    long ReloadsUnchanged);
