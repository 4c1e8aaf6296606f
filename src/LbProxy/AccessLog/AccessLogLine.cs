using System.Buffers;
using System.Text;

namespace LbProxy.AccessLog;

/// <summary>
/// One finished access-log line as UTF-8 bytes in an array rented from the access log's own pool; whoever takes it
/// last (the writer's reader, or the writer when it drops the line) gives the array back.
/// </summary>
/// <remarks>
/// Its own pool, not <see cref="ArrayPool{T}.Shared"/>: the writer lets lines gather (hundreds in flight under
/// load), more than the shared pool keeps per size, which then allocates a new array for every line it lacks.
/// </remarks>
internal readonly struct AccessLogLine
{
    private static readonly ArrayPool<byte> Pool = ArrayPool<byte>.Create(maxArrayLength: 64 * 1024, maxArraysPerBucket: 4096);

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
        var buffer = Pool.Rent(Encoding.UTF8.GetMaxByteCount(chars.Length));
        return new AccessLogLine(buffer, Encoding.UTF8.GetBytes(chars, buffer));
    }

    public void Return()
    {
        if (_buffer is not null)
        {
            Pool.Return(_buffer);
        }
    }
}
