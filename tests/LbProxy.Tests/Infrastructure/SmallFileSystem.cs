using System.Diagnostics;

namespace LbProxy.Tests.Infrastructure;

/// <summary>
/// A real filesystem that fills up: a tmpfs of a few KiB mounted on a fresh directory (<c>mount -t tmpfs -o size=</c>),
/// unmounted on dispose. Mounting needs root (CI runs as root); <see cref="RequiresMountFactAttribute"/> skips a test,
/// with the reason, where it is not permitted.
/// </summary>
internal sealed class SmallFileSystem : IDisposable
{
    private static readonly Lazy<string?> MountRefusal = new(static () =>
    {
        try
        {
            using var probe = Mount(64);
            return null;
        }
        catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            return e.Message;
        }
    });

    private SmallFileSystem(string path) => Path = path;

    public string Path { get; }

    /// <summary>Why a tmpfs cannot be mounted here; null when it can.</summary>
    public static string? WhyNotMountable => MountRefusal.Value;

    public static SmallFileSystem Mount(int kibibytes)
    {
        var directory = Directory.CreateTempSubdirectory("lbproxy-small-fs-").FullName;
        var (code, output) = Run("mount", "-t", "tmpfs", "-o", $"size={kibibytes}k", "tmpfs", directory);
        if (code != 0)
        {
            Directory.Delete(directory);
            throw new InvalidOperationException($"mount -t tmpfs is not permitted here (exit {code}: {output.Trim()})");
        }

        return new SmallFileSystem(directory);
    }

    /// <summary>Remounts it read-only, as <c>docker run --read-only</c> leaves the root filesystem.</summary>
    public void MakeReadOnly()
    {
        var (code, output) = Run("mount", "-o", "remount,ro", Path);
        if (code != 0)
        {
            throw new InvalidOperationException($"mount -o remount,ro failed (exit {code}: {output.Trim()})");
        }
    }

    /// <summary>Fills what is left with a file of its own, so that the next write fails with ENOSPC.</summary>
    public string Fill()
    {
        var filler = System.IO.Path.Combine(Path, "filler");
        using var stream = new FileStream(filler, FileMode.Append, FileAccess.Write, FileShare.None, bufferSize: 0);
        var block = new byte[1024];
        try
        {
            for (var i = 0; i < 1024 * 1024; i++)
            {
                stream.Write(block);
                stream.Flush();
            }
        }
        catch (IOException)
        {
            // No space left on device: full.
        }

        return filler;
    }

    public void Dispose()
    {
        Run("umount", "-l", Path);
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private static (int Code, string Output) Run(string program, params string[] args)
    {
        var start = new ProcessStartInfo(program, args) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEnd() + process.StandardError.ReadToEnd();
        if (!process.WaitForExit(TimeSpan.FromSeconds(20)))
        {
            process.Kill();
            return (-1, "timed out");
        }

        return (process.ExitCode, output);
    }
}

/// <summary>A test that needs <see cref="SmallFileSystem"/>: skipped, with the reason, where mount is not permitted.</summary>
internal sealed class RequiresMountFactAttribute : FactAttribute
{
    public RequiresMountFactAttribute()
    {
        if (SmallFileSystem.WhyNotMountable is { } reason)
        {
            Skip = reason;
        }
    }
}
