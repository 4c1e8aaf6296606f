using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;

namespace LbProxy.Tests.Infrastructure;

/// <summary>
/// The real LbProxy program as a child process (<c>dotnet LbProxy.dll ...</c>), for what only the
/// program as a whole shows: exit codes, the default config lookup, the demo.
/// </summary>
internal sealed partial class ProxyProcess : IAsyncDisposable
{
    public const int SigHup = 1;
    public const int SigTerm = 15;
    public const int SigUsr1 = 10;
    public const int SigUsr2 = 12;
    private const string ListeningMarker = "Now listening on: ";
    private static readonly TimeSpan LinePollInterval = TimeSpan.FromMilliseconds(25);
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly List<string> _stdout = [];
    private readonly TaskCompletionSource<Uri> _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private ProxyProcess(Process process) => _process = process;

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>SIGKILL to this child only: the process dies with no chance to close its connections.</summary>
    public void KillHard() => _process.Kill(entireProcessTree: false);

    /// <summary>The lines of stdout alone, in order: where the access log and the application log go.</summary>
    public IReadOnlyList<string> StandardOutput
    {
        get
        {
            lock (_output)
            {
                return [.. _stdout];
            }
        }
    }

    public int Id => _process.Id;

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    public static string ProgramPath => Path.Combine(AppContext.BaseDirectory, "LbProxy.dll");

    /// <summary>Runs the program to completion (bounded by <paramref name="timeout"/>) and returns its exit code and output.</summary>
    public static async Task<(int ExitCode, string Output)> RunToExitAsync(string workingDirectory, TimeSpan timeout, params string[] args)
    {
        await using var run = Start(workingDirectory, args);
        using var cts = new CancellationTokenSource(timeout);
        await run._process.WaitForExitAsync(cts.Token);
        run._process.WaitForExit(); // drains the redirected output
        return (run._process.ExitCode, run.Output);
    }

    public static ProxyProcess Start(string workingDirectory, params string[] args) =>
        Start(workingDirectory, environment: null, args);

    public static ProxyProcess Start(string workingDirectory, IReadOnlyDictionary<string, string>? environment, params string[] args) =>
        StartCommand(workingDirectory, environment, "dotnet", [ProgramPath, .. args]);

    /// <summary>Any command line that runs LbProxy (a published copy, the container's entrypoint), not only the built one.</summary>
    public static ProxyProcess StartCommand(string workingDirectory, IReadOnlyDictionary<string, string>? environment, string file, params string[] args)
    {
        var info = new ProcessStartInfo(file)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        info.Environment.Remove("LBPROXY_CONFIG");
        info.Environment.Remove("ASPNETCORE_URLS");
        info.Environment.Remove("LBPROXY_CONTROL_TOKEN");
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            info.Environment[name] = value;
        }

        var process = new Process { StartInfo = info };
        var proxy = new ProxyProcess(process);
        process.OutputDataReceived += (_, e) => proxy.OnLine(e.Data, stdout: true);
        process.ErrorDataReceived += (_, e) => proxy.OnLine(e.Data, stdout: false);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return proxy;
    }

    /// <summary>The address once listening, for tests that talk to it.</summary>
    public Uri Address => _listening.Task.IsCompletedSuccessfully ? _listening.Task.Result : throw new InvalidOperationException("not listening yet");

    /// <summary>Starts the program and waits until it listens; it is killed if it does not.</summary>
    public static Task<ProxyProcess> StartListeningAsync(string workingDirectory, IReadOnlyDictionary<string, string>? environment, TimeSpan bound, string[] args) =>
        StartCommandListeningAsync(workingDirectory, environment, bound, "dotnet", [ProgramPath, .. args]);

    /// <summary>As <see cref="StartListeningAsync"/>, for any command line that runs LbProxy (the native build).</summary>
    public static async Task<ProxyProcess> StartCommandListeningAsync(string workingDirectory, IReadOnlyDictionary<string, string>? environment, TimeSpan bound, string file, string[] args)
    {
        var proxy = StartCommand(workingDirectory, environment, file, args);
        try
        {
            await proxy.WaitUntilListeningAsync(bound);
            return proxy;
        }
        catch
        {
            await proxy.DisposeAsync();
            throw;
        }
    }

    /// <summary>Waits for Kestrel's "Now listening on" line and returns that address.</summary>
    public async Task<Uri> WaitUntilListeningAsync(TimeSpan timeout)
    {
        try
        {
            var first = await Task.WhenAny(_listening.Task, _process.WaitForExitAsync()).WaitAsync(timeout);
            if (first == _listening.Task)
            {
                return await _listening.Task;
            }
        }
        catch (TimeoutException)
        {
            // Reported below, with the output, as an exit without listening is.
        }

        throw new TimeoutException($"LbProxy did not start listening (exited: {_process.HasExited}). Output:\n{Output}");
    }

    /// <summary>Sends a signal to this child, by its own pid (<c>kill(2)</c>), as an operator or Kubernetes would.</summary>
    public void Signal(int signal)
    {
        if (Kill(_process.Id, signal) != 0)
        {
            throw new InvalidOperationException($"kill({_process.Id}, {signal}) failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    /// <summary>Waits (bounded) until a line of stdout matches; returns its index, or -1 at the bound or once the process has exited without it.</summary>
    public async Task<int> WaitForLineAsync(Func<string, bool> match, TimeSpan bound, int startAt = 0)
    {
        var found = await Poll.TryUntilAsync(
            () => Task.FromResult(FindLine(match, startAt)),
            static line => line.Index >= 0 || line.Final,
            bound,
            LinePollInterval);
        return found.Last.Index;
    }

    /// <summary>Waits (bounded) for the process to exit and returns its exit code.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan bound)
    {
        using var cts = new CancellationTokenSource(bound);
        await _process.WaitForExitAsync(cts.Token);
        _process.WaitForExit(); // drains the redirected output
        return _process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);

    /// <summary>The first matching line from <paramref name="startAt"/> on; final when the process has exited and no line came since.</summary>
    private (int Index, bool Final) FindLine(Func<string, bool> match, int startAt)
    {
        var exited = _process.HasExited;
        var lines = StandardOutput;
        for (var i = startAt; i < lines.Count; i++)
        {
            if (match(lines[i]))
            {
                return (i, true);
            }
        }

        return (-1, exited && lines.Count == StandardOutput.Count);
    }

    private void OnLine(string? line, bool stdout)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.AppendLine(line);
            if (stdout)
            {
                _stdout.Add(line);
            }
        }

        var at = line.IndexOf(ListeningMarker, StringComparison.Ordinal);
        if (at >= 0)
        {
            // The first plain-HTTP address: a config with an HTTPS endpoint may list that one first.
            var address = new Uri(line[(at + ListeningMarker.Length)..].Trim());
            if (address.Scheme == Uri.UriSchemeHttp)
            {
                _listening.TrySetResult(address);
            }
        }
    }
}
