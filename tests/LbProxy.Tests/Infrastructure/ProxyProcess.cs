using System.Diagnostics;
using System.Text;

namespace LbProxy.Tests.Infrastructure;

/// <summary>
/// The real LbProxy program as a child process (<c>dotnet LbProxy.dll ...</c>), for what only the
/// program as a whole shows: exit codes, the default config lookup, the demo.
/// </summary>
internal sealed class ProxyProcess : IAsyncDisposable
{
    private const string ListeningMarker = "Now listening on: ";
    private readonly Process _process;
    private readonly StringBuilder _output = new();
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

    public int ProcessId => _process.Id;

    public bool HasExited => _process.HasExited;

    /// <summary>SIGKILL to this child only: the process dies with no chance to close its connections.</summary>
    public void KillHard() => _process.Kill(entireProcessTree: false);

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

    public static ProxyProcess Start(string workingDirectory, params string[] args)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(ProgramPath);
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        info.Environment.Remove("LBPROXY_CONFIG");
        info.Environment.Remove("ASPNETCORE_URLS");
        var process = new Process { StartInfo = info };
        var proxy = new ProxyProcess(process);
        process.OutputDataReceived += (_, e) => proxy.OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => proxy.OnLine(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return proxy;
    }

    /// <summary>Waits for Kestrel's "Now listening on" line and returns that address.</summary>
    public async Task<Uri> WaitUntilListeningAsync(TimeSpan timeout)
    {
        var exited = _process.WaitForExitAsync();
        var first = await Task.WhenAny(_listening.Task, exited, Task.Delay(timeout));
        if (first != _listening.Task)
        {
            throw new TimeoutException($"LbProxy did not start listening (exited: {_process.HasExited}). Output:\n{Output}");
        }

        return await _listening.Task;
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

    private void OnLine(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.AppendLine(line);
        }

        var at = line.IndexOf(ListeningMarker, StringComparison.Ordinal);
        if (at >= 0)
        {
            _listening.TrySetResult(new Uri(line[(at + ListeningMarker.Length)..].Trim()));
        }
    }
}
