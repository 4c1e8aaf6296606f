using System.Buffers;
using System.Text;

namespace LbProxy.AccessLog;

/// <summary>
/// One finished access-log line as UTF-8 bytes in an array rented from <see cref="ArrayPool{T}.Shared"/>; whoever
/// takes it last (the writer's reader, or the writer when it drops the line) gives the array back.
/// </summary>
internal readonly struct AccessLogLine
{
    private readonly byte[] _buffer;
    private readonly int _length;

    private AccessLogLine(byte[] buffer, int length)
    {
        _buffer = buffer;
        _length = length;
    }

    public ReadOnlySpan<byte> Bytes => _buffer.AsSpan(0, _length);

    /// <summary>The line's characters encoded into a rented array (invalid UTF-16 becomes U+FFFD).</summary>
    public static AccessLogLine Encode(ReadOnlySpan<char> chars)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(Encoding.UTF8.GetMaxByteCount(chars.Length));
        return new AccessLogLine(buffer, Encoding.UTF8.GetBytes(chars, buffer));
    }

    public void Return()
    {
        if (_buffer is not null)
        {
            ArrayPool<byte>.Shared.Return(_buffer);
        }
    }
}
