using System.Collections.Concurrent;
using System.Security.Cryptography.X509Certificates;
using LbProxy.Configuration;

namespace LbProxy.Tls;

/// <summary>
/// The certificates Kestrel serves: a validated copy of each operator pair in a private directory, and, above every
/// other configuration source, the <c>Path</c> and <c>KeyPath</c> keys that point Kestrel's own endpoint reading at
/// those copies. Kestrel's certificate watcher then sees only pairs that passed <see cref="CertificateFiles.Inspect"/>:
/// a bad pair on disk is never served, and the last good one stays.
/// </summary>
internal sealed class TlsCertificateStage : ConfigurationProvider, IConfigurationSource, IDerivedConfigurationProvider
{
    private static readonly UnixFileMode Private = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    private readonly Lock _lock = new();
    private readonly ConcurrentDictionary<string, ServedCertificate> _served = new(StringComparer.OrdinalIgnoreCase);
    private readonly string? _configuredDirectory;
    private string? _directory;
    private bool _ownsDirectory;
    private long _applied;
    private long _refused;

    public TlsCertificateStage(string? directory) => _configuredDirectory = string.IsNullOrWhiteSpace(directory) ? null : directory;

    public IReadOnlyCollection<ServedCertificate> Served => [.. _served.Values];

    public long Applied => Interlocked.Read(ref _applied);

    public long Refused => Interlocked.Read(ref _refused);

    public IConfigurationProvider Build(IConfigurationBuilder builder) => this;

    public string? ServedHash(string configKey) => _served.TryGetValue(configKey, out var served) ? served.Hash : null;

    /// <summary>
    /// Copies a validated pair where Kestrel reads it: the key first, then the certificate, each by an atomic rename.
    /// <paramref name="notify"/> is false at start, before Kestrel has read its endpoints.
    /// </summary>
    public void Stage(CertificateFiles files, X509Certificate2 certificate, bool notify)
    {
        var reference = files.Reference;
        bool keysChanged;
        lock (_lock)
        {
            var directory = EnsureDirectory();
            var name = ConfigState.HashOf(System.Text.Encoding.UTF8.GetBytes(reference.ConfigKey.ToUpperInvariant()));
            var certificatePath = Path.Combine(directory, name + ".crt");
            string? keyPath = null;
            if (files.Key is not null)
            {
                keyPath = Path.Combine(directory, name + ".key");
                WriteAtomically(keyPath, files.Key);
            }

            WriteAtomically(certificatePath, files.Certificate!);
            keysChanged = SetKey($"{reference.ConfigKey}:Path", certificatePath) | (keyPath is not null && SetKey($"{reference.ConfigKey}:KeyPath", keyPath));
            _served[reference.ConfigKey] = new ServedCertificate(files.Hash, CertificateDescription.Of(reference, certificate));
        }

        if (notify)
        {
            Interlocked.Increment(ref _applied);
            if (keysChanged)
            {
                // A certificate Kestrel read from the operator's own file until now (one added by a config reload).
                OnReload();
            }
        }
    }

    public void CountRefused() => Interlocked.Increment(ref _refused);

    /// <summary>Deletes the copies, when the directory is the process's own.</summary>
    public void DeleteDirectory()
    {
        lock (_lock)
        {
            if (_ownsDirectory && _directory is not null)
            {
                try
                {
                    Directory.Delete(_directory, recursive: true);
                }
                catch (IOException)
                {
                }

                _directory = null;
            }
        }
    }

    private bool SetKey(string key, string value)
    {
        if (Data.TryGetValue(key, out var current) && current == value)
        {
            return false;
        }

        Data[key] = value;
        return true;
    }

    private string EnsureDirectory()
    {
        if (_directory is not null)
        {
            return _directory;
        }

        if (_configuredDirectory is not null)
        {
            Directory.CreateDirectory(_configuredDirectory);
            _directory = _configuredDirectory;
        }
        else
        {
            // Created 0700: the copies include private keys.
            _directory = Directory.CreateTempSubdirectory("lbproxy-tls-").FullName;
            _ownsDirectory = true;
            AppDomain.CurrentDomain.ProcessExit += (_, _) => DeleteDirectory();
        }

        return _directory;
    }

    private static void WriteAtomically(string path, byte[] content)
    {
        var temporary = path + ".tmp";
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = Private;
        }

        using (var stream = new FileStream(temporary, options))
        {
            stream.Write(content);
        }

        File.Move(temporary, path, overwrite: true);
    }
}

/// <summary>A pair Kestrel serves: the hash of the operator files it was copied from, and what status shows of it.</summary>
internal sealed record ServedCertificate(string Hash, CertificateDescription Description);
