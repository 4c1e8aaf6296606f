namespace LbProxy.Edge;

/// <summary>A read-only stream of <c>prefix</c> and then whatever <c>rest</c> gives: a body partly read already.</summary>
internal sealed class PrefixedStream(byte[] prefix, Stream rest) : ReadOnlyStream
{
    private int _position;

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        if (TakePrefix(buffer) is var taken and > 0)
        {
            return taken;
        }

        return rest.Read(buffer);
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (TakePrefix(buffer.Span) is var taken and > 0)
        {
            return ValueTask.FromResult(taken);
        }

        return rest.ReadAsync(buffer, cancellationToken);
    }

    private int TakePrefix(Span<byte> buffer)
    {
        var left = prefix.Length - _position;
        if (left <= 0 || buffer.IsEmpty)
        {
            return 0;
        }

        var taken = Math.Min(left, buffer.Length);
        prefix.AsSpan(_position, taken).CopyTo(buffer);
        _position += taken;
        return taken;
    }
}
