using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace LbProxy.Configuration;

/// <summary>
/// Reads a file LbProxy is told to trust (the config file, certificates, keys) as the operator meant it: a regular
/// file, of bounded size, read within a bounded time. <c>File.ReadAllBytes</c> reads a FIFO until a writer comes
/// (forever: the reloader stalled for good and a stop waited for it) and a character device until memory runs out
/// (a symlink to <c>/dev/zero</c> took the process to 2.6 GB). Here the file is opened non-blocking (a FIFO's open
/// returns at once), its type and size are taken from the open descriptor (<c>statx</c>, so a swap between the
/// check and the read cannot slip a device in), and a read on a mount that hangs is abandoned after
/// <see cref="TimeBound"/>: the caller gets an error, and a second read of the same path while the first still
/// hangs fails at once rather than piling up threads.
/// </summary>
internal static partial class BoundedFile
{
    /// <summary>How long a read may take; a local file of the sizes below takes milliseconds.</summary>
    public static readonly TimeSpan TimeBound = TimeSpan.FromSeconds(5);

    private static readonly ConcurrentDictionary<string, DateTimeOffset> Hung = new(StringComparer.Ordinal);

    /// <summary>
    /// The file's bytes; throws <see cref="FileNotFoundException"/> or <see cref="DirectoryNotFoundException"/>
    /// when it is missing, and <see cref="IOException"/> with the reason (not a regular file, too large, too slow,
    /// unreadable) otherwise.
    /// </summary>
    public static byte[] Read(string path, long maxBytes)
    {
        if (Hung.TryGetValue(path, out var since))
        {
            throw new IOException($"an earlier read of '{path}' has not returned since {since:u}; the file system does not answer");
        }

        var read = Task.Factory.StartNew(() => ReadNow(path, maxBytes), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        if (Task.WaitAny([read], TimeBound) < 0)
        {
            Hung[path] = DateTimeOffset.UtcNow;
            read.ContinueWith(_ => Hung.TryRemove(path, out DateTimeOffset _), TaskScheduler.Default);
            throw new IOException($"reading '{path}' took longer than {TimeBound.TotalSeconds:0} s; the file system does not answer");
        }

        return read.GetAwaiter().GetResult();
    }

    private static byte[] ReadNow(string path, long maxBytes)
    {
        using var handle = Open(path);
        var (type, size) = TypeAndSize(handle, path);
        if (type is not null)
        {
            throw new IOException($"'{path}' is {type}, not a regular file; only regular files are read");
        }

        if (size > maxBytes)
        {
            throw new IOException($"'{path}' is {size} bytes, more than the {maxBytes} read at most");
        }

        // The size may change between the look and the read: read at most one byte more than allowed, to know.
        var buffer = new byte[Math.Min(size, maxBytes) + 1];
        var total = 0;
        while (total < buffer.Length)
        {
            var n = RandomAccess.Read(handle, buffer.AsSpan(total), total);
            if (n == 0)
            {
                break;
            }

            total += n;
            if (total == buffer.Length && total <= maxBytes)
            {
                Array.Resize(ref buffer, (int)Math.Min(maxBytes + 1, (long)buffer.Length * 2));
            }
        }

        if (total > maxBytes)
        {
            throw new IOException($"'{path}' is more than the {maxBytes} bytes read at most");
        }

        return buffer.AsSpan(0, total).ToArray();
    }

    private static SafeFileHandle Open(string path)
    {
        if (!OperatingSystem.IsLinux())
        {
            return File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        }

        // O_RDONLY | O_NONBLOCK | O_CLOEXEC: a FIFO opens at once (and is refused by type), a regular file ignores O_NONBLOCK.
        var fd = OpenFile(path, 0x800 | 0x80000, 0);
        if (fd < 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            var message = Marshal.GetPInvokeErrorMessage(errno);
            throw errno switch
            {
                2 => new FileNotFoundException($"'{path}': {message}", path), // ENOENT
                20 => new DirectoryNotFoundException($"'{path}': {message}"), // ENOTDIR
                13 => new UnauthorizedAccessException($"'{path}': {message}"), // EACCES
                _ => new IOException($"'{path}': {message}", errno),
            };
        }

        return new SafeFileHandle(fd, ownsHandle: true);
    }

    /// <summary>What the descriptor is when not a regular file (null when it is), and its size.</summary>
    private static unsafe (string? NotRegular, long Size) TypeAndSize(SafeFileHandle handle, string path)
    {
        if (!OperatingSystem.IsLinux())
        {
            return (null, RandomAccess.GetLength(handle));
        }

        // struct statx: stx_mode (u16) at offset 28, stx_size (u64) at 40; the same on every Linux architecture.
        var buffer = stackalloc byte[256];
        var added = false;
        handle.DangerousAddRef(ref added);
        try
        {
            // AT_EMPTY_PATH: the descriptor itself; STATX_TYPE | STATX_SIZE.
            if (Statx((int)handle.DangerousGetHandle(), "", 0x1000, 0x1 | 0x200, buffer) != 0)
            {
                throw new IOException($"'{path}': {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
            }
        }
        finally
        {
            if (added)
            {
                handle.DangerousRelease();
            }
        }

        var mode = *(ushort*)(buffer + 28) & 0xF000;
        var size = *(long*)(buffer + 40);
        return mode switch
        {
            0x8000 => (null, size),
            0x1000 => ("a FIFO", size),
            0x2000 => ("a character device", size),
            0x6000 => ("a block device", size),
            0xC000 => ("a socket", size),
            0x4000 => ("a directory", size),
            _ => ("not a regular file", size),
        };
    }

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int OpenFile(string path, int flags, int mode);

    [LibraryImport("libc", EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int Statx(int directory, string path, int flags, uint mask, byte* buffer);
}
