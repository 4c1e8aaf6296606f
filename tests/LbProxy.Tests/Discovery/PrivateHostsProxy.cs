using System.Diagnostics;
using LbProxy.Tests.Infrastructure;

namespace LbProxy.Tests.Discovery;

/// <summary>
/// The real LbProxy program in a private mount namespace whose <c>/etc/hosts</c> is a file of the test's
/// (<c>unshare -m</c>, then a bind mount): the system resolver, no mock, answering what the test writes. The file is
/// rewritten in place (same inode), as the bind mount holds the inode.
/// </summary>
internal sealed class PrivateHostsProxy : IAsyncDisposable
{
    private readonly DirectoryInfo _directory;

    private PrivateHostsProxy(DirectoryInfo directory, ProxyProcess process, string hostsPath)
    {
        _directory = directory;
        Process = process;
        HostsPath = hostsPath;
        Client = new HttpClient { BaseAddress = process.Address, Timeout = TimeSpan.FromSeconds(30) };
    }

    public ProxyProcess Process { get; }

    public string HostsPath { get; }

    public HttpClient Client { get; }

    /// <summary>Why the test cannot run here, or null: <c>unshare -m</c> and <c>mount --bind</c> need root (CI runs as root).</summary>
    public static string? Unavailable { get; } = Probe();

    public static async Task<PrivateHostsProxy> StartAsync(string configJson, params IEnumerable<string>[] hostLines)
    {
        var directory = Directory.CreateTempSubdirectory("lbproxy-dns-");
        var configPath = Path.Combine(directory.FullName, "yarp.json");
        var hostsPath = Path.Combine(directory.FullName, "hosts");
        await File.WriteAllTextAsync(configPath, configJson);
        await File.WriteAllTextAsync(hostsPath, Hosts(hostLines.SelectMany(static l => l)));
        const string script = "mount --bind \"$1\" /etc/hosts && exec dotnet \"$2\" --config \"$3\" --urls http://127.0.0.1:0 --LbProxy:Control:ShutdownGrace 00:00:00";
        var process = await ProxyProcess.StartCommandListeningAsync(directory.FullName, environment: null, TimeSpan.FromSeconds(60), "unshare",
            ["-m", "sh", "-c", script, "sh", hostsPath, ProxyProcess.ProgramPath, configPath]);
        return new PrivateHostsProxy(directory, process, hostsPath);
    }

    /// <summary>Rewrites the proxy's <c>/etc/hosts</c>: localhost, then these lines.</summary>
    public void WriteHosts(IEnumerable<string> lines) => File.WriteAllText(HostsPath, Hosts(lines));

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await Process.DisposeAsync();
        _directory.Delete(recursive: true);
    }

    private static string Hosts(IEnumerable<string> lines) => string.Join('\n', ["127.0.0.1 localhost", .. lines]) + "\n";

    private static string? Probe()
    {
        try
        {
            using var probe = System.Diagnostics.Process.Start(new ProcessStartInfo("unshare", ["-m", "sh", "-c", "mount --bind /etc/hosts /etc/hosts"])
            {
                RedirectStandardError = true,
                RedirectStandardOutput = true,
            })!;
            var error = probe.StandardError.ReadToEnd();
            return probe.WaitForExit(10_000) && probe.ExitCode == 0 ? null : $"unshare -m with a bind mount is not permitted here (root is needed): {error.Trim()}";
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return $"unshare is not installed: {e.Message}";
        }
    }
}

/// <summary>A fact that is skipped, with the reason, where a private mount namespace cannot be made.</summary>
internal sealed class PrivateHostsFactAttribute : FactAttribute
{
    public PrivateHostsFactAttribute()
    {
        if (PrivateHostsProxy.Unavailable is { } reason)
        {
            Skip = reason;
        }
    }
}
