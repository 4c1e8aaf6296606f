using System.Collections.Concurrent;
using System.Net.Security;
using System.Runtime.CompilerServices;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Connections;
using LbProxy.Configuration;

namespace LbProxy.Tls;

/// <summary>
/// The certificates Kestrel serves. At start (and when a config reload names a new certificate) a validated copy of
/// each operator pair is written to a private directory and, above every other configuration source, the
/// <c>Path</c> and <c>KeyPath</c> keys point Kestrel's own endpoint reading at it. The copies are never rewritten:
/// Kestrel's certificate watcher would rebind the endpoint, and new connections are refused while it does. A rotated
/// pair that passed <see cref="CertificateFiles.Inspect"/> reaches new handshakes through Kestrel's
/// <c>OnAuthenticate</c> hook instead, which swaps the certificate Kestrel picked for the current good one of the same
/// SNI entry. A bad pair on disk is never served, and the last good one stays.
/// </summary>
internal sealed class TlsCertificateStage : ConfigurationProvider, IConfigurationSource, IDerivedConfigurationProvider
{
    private static readonly UnixFileMode Private = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    private readonly Lock _lock = new();
    private readonly ConcurrentDictionary<string, ServedCertificate> _served = new(StringComparer.OrdinalIgnoreCase);

    // The fingerprint of each copy Kestrel loaded → the config key of its certificate entry.
    private readonly ConcurrentDictionary<string, string> _stagedFingerprints = new(StringComparer.OrdinalIgnoreCase);

    // Kestrel's certificate objects, each looked up once: a handshake then costs one reference lookup.
    private readonly ConditionalWeakTable<X509Certificate, StrongBox<string?>> _keyOfKestrelCertificate = [];
    private readonly string? _configuredDirectory;
    private string? _directory;
    private bool _ownsDirectory;
    private long _applied;
    private long _refused;

    public TlsCertificateStage(string? directory) => _configuredDirectory = string.IsNullOrWhiteSpace(directory) ? null : directory;

    /// <summary>LbProxy:Tls:StagingDirectory as read at start; null for a new temporary directory.</summary>
    public string? ConfiguredDirectory => _configuredDirectory;

    public IReadOnlyCollection<ServedCertificate> Served => [.. _served.Values];

    public long Applied => Interlocked.Read(ref _applied);

    public long Refused => Interlocked.Read(ref _refused);

    public IConfigurationProvider Build(IConfigurationBuilder builder) => this;

    /// <summary>The served certificates as <c>/_lb/status</c> shows them: by endpoint, then SNI name.</summary>
    public IReadOnlyList<CertificateDescription> Describe() =>
        [.. Served.Select(static s => s.Description).OrderBy(static d => d.Endpoint, StringComparer.Ordinal).ThenBy(static d => d.Sni, StringComparer.Ordinal)];

    public string? ServedHash(string configKey) => _served.TryGetValue(configKey, out var served) ? served.Hash : null;

    /// <summary>
    /// Makes a validated pair the one new handshakes of its entry get. The first pair of an entry is also copied where
    /// Kestrel reads it (the key first, then the certificate, each by an atomic rename). <paramref name="notify"/> is
    /// false at start, before Kestrel has read its endpoints. The stage owns <paramref name="certificate"/> from here on:
    /// handshakes in flight may still use the pair it replaces, so neither is disposed.
    /// </summary>
    public void Stage(CertificateFiles files, X509Certificate2 certificate, bool notify)
    {
        var reference = files.Reference;
        var context = SslStreamCertificateContext.Create(certificate, files.Intermediates(), offline: true);
        var keysChanged = false;
        lock (_lock)
        {
            if (!_served.ContainsKey(reference.ConfigKey))
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
                _stagedFingerprints[certificate.Thumbprint] = reference.ConfigKey;
            }

            _served[reference.ConfigKey] = new ServedCertificate(files.Hash, CertificateDescription.Of(reference, certificate), context);
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

    /// <summary>
    /// Kestrel's <c>OnAuthenticate</c>, called for every handshake after it chose the certificate of the SNI entry:
    /// when that is a copy made here, the entry's current good pair is served instead.
    /// </summary>
    public void OnAuthenticate(ConnectionContext connection, SslServerAuthenticationOptions options)
    {
        var chosen = options.ServerCertificateContext?.TargetCertificate ?? options.ServerCertificate;
        if (chosen is null)
        {
            return;
        }

        var key = _keyOfKestrelCertificate.GetValue(chosen, KeyOf).Value;
        if (key is not null && _served.TryGetValue(key, out var served))
        {
            options.ServerCertificate = null;
            options.ServerCertificateContext = served.Context;
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

    private StrongBox<string?> KeyOf(X509Certificate certificate) =>
        new(_stagedFingerprints.TryGetValue(certificate.GetCertHashString(), out var key) ? key : null);

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

        try
        {
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
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // An IOException: the start reports it as one line ("cannot start: ..."), naming the directory.
            throw new IOException(TlsCertificateCheck.StagingProblem(_configuredDirectory ?? Path.GetTempPath(), e), e);
        }

        // A configured directory that exists may still be read-only (docker run --read-only).
        if (TlsCertificateCheck.UnwritableStaging(_directory) is { } problem)
        {
            _directory = null;
            throw new IOException(problem);
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

/// <summary>A pair served to new handshakes: the hash of the operator files it was read from, what status shows of it, and its TLS context.</summary>
internal sealed record ServedCertificate(string Hash, CertificateDescription Description, SslStreamCertificateContext Context);
