using System.Diagnostics;
using System.Text.Json.Nodes;

namespace LbProxy.Tests.Infrastructure;

/// <summary>
/// Certificate files in a temporary directory, laid out as an operator's are (a plain pair per name, or a Kubernetes
/// TLS secret's <c>..data</c> symlinks), the <c>Kestrel</c> section that serves them on a fixed loopback port, and every
/// way of replacing a pair on disk.
/// </summary>
internal sealed class TlsLayout : IDisposable
{
    private int _generation;

    public TlsLayout(TestCertificates certificates)
    {
        Certificates = certificates;
        Directory = System.IO.Directory.CreateTempSubdirectory("lbproxy-tls-test-");
        HttpsPort = LoopbackPorts.Unused();
    }

    public TestCertificates Certificates { get; }

    public DirectoryInfo Directory { get; }

    /// <summary>Fixed, not 0: Kestrel rebinds an endpoint whose certificate changed, and port 0 would move it.</summary>
    public int HttpsPort { get; }

    public string CertificatePath(string name) => Path.Combine(Directory.FullName, name, "tls.crt");

    public string KeyPath(string name) => Path.Combine(Directory.FullName, name, "tls.key");

    /// <summary>A pair for <paramref name="name"/> in its own folder; as a Kubernetes secret mount when <paramref name="kubernetes"/>.</summary>
    public async Task<Pem> AddAsync(string name, bool kubernetes = false)
    {
        var pem = Certificates.Leaf([name == "*" ? "default.test" : name, "127.0.0.1"]);
        var folder = System.IO.Directory.CreateDirectory(Path.Combine(Directory.FullName, name));
        if (!kubernetes)
        {
            await pem.WriteAsync(CertificatePath(name), KeyPath(name));
            return pem;
        }

        // kubelet's layout: tls.crt -> ..data/tls.crt, ..data -> ..<timestamp>/
        var version = await WriteVersionAsync(folder, pem);
        File.CreateSymbolicLink(Path.Combine(folder.FullName, "..data"), version);
        File.CreateSymbolicLink(CertificatePath(name), Path.Combine("..data", "tls.crt"));
        File.CreateSymbolicLink(KeyPath(name), Path.Combine("..data", "tls.key"));
        return pem;
    }

    /// <summary>The Kestrel section: a plain-HTTP endpoint on port 0 and one HTTPS endpoint with an SNI entry per name.</summary>
    public JsonObject Kestrel(params string[] names)
    {
        var sni = new JsonObject();
        foreach (var name in names)
        {
            sni[name] = new JsonObject
            {
                ["Certificate"] = new JsonObject { ["Path"] = CertificatePath(name), ["KeyPath"] = KeyPath(name) },
            };
        }

        return new JsonObject
        {
            ["Endpoints"] = new JsonObject
            {
                ["Http"] = new JsonObject { ["Url"] = "http://127.0.0.1:0" },
                ["Https"] = new JsonObject { ["Url"] = $"https://127.0.0.1:{HttpsPort}", ["Protocols"] = "Http1AndHttp2", ["Sni"] = sni },
            },
        };
    }

    /// <summary>Replaces the pair of <paramref name="name"/> with <paramref name="pem"/> in the way <paramref name="how"/> says.</summary>
    public async Task ReplaceAsync(string name, Pem pem, Replacement how)
    {
        var certificate = CertificatePath(name);
        var key = KeyPath(name);
        switch (how)
        {
            case Replacement.InPlace:
                await pem.WriteAsync(certificate, key);
                break;
            case Replacement.CertificateBeforeKey:
                await File.WriteAllTextAsync(certificate, pem.Certificate);
                await File.WriteAllTextAsync(key, pem.Key);
                break;
            case Replacement.AtomicRename:
                // certbot and most tools: write beside, rename over.
                await File.WriteAllTextAsync(key + ".new", pem.Key);
                await File.WriteAllTextAsync(certificate + ".new", pem.Certificate);
                File.Move(key + ".new", key, overwrite: true);
                File.Move(certificate + ".new", certificate, overwrite: true);
                break;
            case Replacement.KubernetesSwap:
                var folder = new DirectoryInfo(Path.GetDirectoryName(certificate)!);
                var previous = new FileInfo(Path.Combine(folder.FullName, "..data")).LinkTarget!;
                var version = await WriteVersionAsync(folder, pem);
                File.CreateSymbolicLink(Path.Combine(folder.FullName, "..data_tmp"), version);
                await RunAsync("mv", "-T", Path.Combine(folder.FullName, "..data_tmp"), Path.Combine(folder.FullName, "..data"));
                System.IO.Directory.Delete(Path.Combine(folder.FullName, previous), recursive: true);
                break;
            case Replacement.Truncated:
                // A writer that stopped half-way: the key whole, the certificate cut short.
                await File.WriteAllTextAsync(key, pem.Key);
                await File.WriteAllTextAsync(certificate, pem.Certificate[..(pem.Certificate.Length / 2)]);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(how));
        }
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private async Task<string> WriteVersionAsync(DirectoryInfo folder, Pem pem)
    {
        var name = $"..2026_12_01_{Interlocked.Increment(ref _generation):D3}";
        var version = System.IO.Directory.CreateDirectory(Path.Combine(folder.FullName, name));
        await pem.WriteAsync(Path.Combine(version.FullName, "tls.crt"), Path.Combine(version.FullName, "tls.key"));
        return name;
    }

    private static async Task RunAsync(string program, params string[] args)
    {
        using var process = Process.Start(new ProcessStartInfo(program, args) { UseShellExecute = false })!;
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await process.WaitForExitAsync(cts.Token);
        Assert.Equal(0, process.ExitCode);
    }
}

/// <summary>The ways a certificate pair is replaced on disk.</summary>
public enum Replacement
{
    /// <summary>Rewritten in place, the key first (each file truncated and written).</summary>
    InPlace,

    /// <summary>Rewritten in place, the certificate first: for a moment the new certificate sits beside the old key.</summary>
    CertificateBeforeKey,

    /// <summary>Written beside and renamed over, the key first.</summary>
    AtomicRename,

    /// <summary>A Kubernetes secret update: a new timestamped folder and an atomic rename of <c>..data</c>.</summary>
    KubernetesSwap,

    /// <summary>The certificate file cut short, as by a writer that stopped half-way.</summary>
    Truncated,
}
