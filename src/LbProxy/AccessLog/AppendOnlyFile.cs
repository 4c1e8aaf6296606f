using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace LbProxy.AccessLog;

/// <summary>
/// A file opened with <c>O_APPEND</c>, as nginx opens its logs. .NET's <c>FileMode.Append</c> only seeks to the end
/// once and then writes at its own offset (<c>pwrite</c>): after a <c>logrotate copytruncate</c> it would go on
/// writing at the old offset and leave a hole of zeros, and two writers would overwrite each other. With
/// <c>O_APPEND</c> the kernel puts every write at the end of the file (on Linux even a <c>pwrite</c>).
/// </summary>
internal static partial class AppendOnlyFile
{
    private const int OWronly = 0x1;
    private const int OCreat = 0x40;
    private const int OAppend = 0x400;
    private const int OCloexec = 0x80000;

    /// <summary>rw-r----- for a new file: the access log holds client addresses.</summary>
    private const int NewFileMode = 0x1A0;

    public static Stream Open(string path)
    {
        if (!OperatingSystem.IsLinux())
        {
            return new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete, bufferSize: 0);
        }

        var fd = OpenFile(path, OWronly | OCreat | OAppend | OCloexec, NewFileMode);
        if (fd < 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            throw new IOException($"cannot open {path} for append: {Marshal.GetPInvokeErrorMessage(errno)}", errno);
        }

        return new FileStream(new SafeFileHandle(fd, ownsHandle: true), FileAccess.Write, bufferSize: 0);
    }

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int OpenFile(string path, int flags, int mode);
}
