namespace LbProxy.Edge;

/// <summary>
/// The base of the body wrappers that pass a stream through one way: no seeking, no length, no position. A read-only
/// one overrides the reads; a write-only one (<see cref="WriteOnlyStream"/>) the writes and flushes.
/// </summary>
internal abstract class OneWayStream : Stream
{
    public sealed override bool CanSeek => false;

    public sealed override long Length => throw new NotSupportedException();

    public sealed override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public sealed override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public sealed override void SetLength(long value) => throw new NotSupportedException();
}

/// <summary>A one-way stream that is only read: writing is not supported, flushing does nothing.</summary>
internal abstract class ReadOnlyStream : OneWayStream
{
    public sealed override bool CanRead => true;

    public sealed override bool CanWrite => false;

    public sealed override void Flush()
    {
    }

    public sealed override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}

/// <summary>A one-way stream that is only written: reading is not supported.</summary>
internal abstract class WriteOnlyStream : OneWayStream
{
    public sealed override bool CanRead => false;

    public override bool CanWrite => true;

    public sealed override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
