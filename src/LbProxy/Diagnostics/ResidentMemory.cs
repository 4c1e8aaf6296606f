using System.Buffers.Text;
using Microsoft.Win32.SafeHandles;

namespace LbProxy.Diagnostics;

/// <summary>
/// The working set without allocating: the second field of <c>/proc/self/statm</c> (resident pages), read into a
/// buffer allocated once from a handle opened once. <c>Environment.WorkingSet</c> allocates about 3 KB a call on
/// Linux; it is the fallback where there is no <c>/proc</c>. Used by the sampler's tick only (one thread).
/// </summary>
internal sealed class ResidentMemory : IDisposable
{
    private readonly SafeFileHandle? _statm;
    private readonly byte[] _buffer = new byte[128];

    public ResidentMemory()
    {
        try
        {
            _statm = File.OpenHandle("/proc/self/statm", FileMode.Open, FileAccess.Read);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _statm = null;
        }
    }

    public long Bytes()
    {
        if (_statm is null)
        {
            return Environment.WorkingSet;
        }

        var length = RandomAccess.Read(_statm, _buffer, 0);
        var text = _buffer.AsSpan(0, length);
        var space = text.IndexOf((byte)' ');
        if (space < 0)
        {
            return Environment.WorkingSet;
        }

        text = text[(space + 1)..];
        return Utf8Parser.TryParse(text, out long pages, out _) ? pages * Environment.SystemPageSize : Environment.WorkingSet;
    }

    public void Dispose() => _statm?.Dispose();
}
