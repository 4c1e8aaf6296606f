using System.IO.Pipelines;
using Microsoft.AspNetCore.Http.Features;

namespace LbProxy.AccessLog;

/// <summary>
/// Counts the response body bytes that pass to the server's own body feature, for <c>{bytes}</c>. Nothing
/// is buffered here: every call goes straight through, so the server's behaviour (when the response
/// starts, flushing, completion) is unchanged. Installed only for templates that use <c>{bytes}</c>.
/// </summary>
internal sealed class CountingResponseBodyFeature(IHttpResponseBodyFeature inner) : IHttpResponseBodyFeature
{
    private CountingStream? _stream;
    private CountingPipeWriter? _writer;
    private long _bytes;

    public IHttpResponseBodyFeature Inner => inner;

    public long Bytes => Interlocked.Read(ref _bytes);

    public Stream Stream => _stream ??= new CountingStream(this, inner.Stream);

    public PipeWriter Writer => _writer ??= new CountingPipeWriter(this, inner.Writer);

    public void DisableBuffering() => inner.DisableBuffering();

    public Task StartAsync(CancellationToken cancellationToken = default) => inner.StartAsync(cancellationToken);

    public Task CompleteAsync() => inner.CompleteAsync();

    public Task SendFileAsync(string path, long offset, long? count, CancellationToken cancellationToken = default)
    {
        Add(count ?? Math.Max(0, new FileInfo(path).Length - offset));
        return inner.SendFileAsync(path, offset, count, cancellationToken);
    }

    internal void Add(long bytes) => Interlocked.Add(ref _bytes, bytes);
}

/// <summary>The response body writer of <see cref="CountingResponseBodyFeature"/>: counts what is advanced or written.</summary>
internal sealed class CountingPipeWriter(CountingResponseBodyFeature feature, PipeWriter inner) : PipeWriter
{
    public override bool CanGetUnflushedBytes => inner.CanGetUnflushedBytes;

    public override long UnflushedBytes => inner.UnflushedBytes;

    public override void Advance(int bytes)
    {
        feature.Add(bytes);
        inner.Advance(bytes);
    }

    public override Memory<byte> GetMemory(int sizeHint = 0) => inner.GetMemory(sizeHint);

    public override Span<byte> GetSpan(int sizeHint = 0) => inner.GetSpan(sizeHint);

    public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default) => inner.FlushAsync(cancellationToken);

    public override ValueTask<FlushResult> WriteAsync(ReadOnlyMemory<byte> source, CancellationToken cancellationToken = default)
    {
        // The inner writer's own WriteAsync does not come back through Advance here: counted once.
        feature.Add(source.Length);
        return inner.WriteAsync(source, cancellationToken);
    }

    public override void CancelPendingFlush() => inner.CancelPendingFlush();

    public override void Complete(Exception? exception = null) => inner.Complete(exception);

    public override ValueTask CompleteAsync(Exception? exception = null) => inner.CompleteAsync(exception);
}

/// <summary>The response body stream of <see cref="CountingResponseBodyFeature"/>: counts, then writes through.</summary>
internal sealed class CountingStream(CountingResponseBodyFeature feature, Stream inner) : Stream
{
    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => inner.CanWrite;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override void Flush() => inner.Flush();

    public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count)
    {
        feature.Add(count);
        inner.Write(buffer, offset, count);
    }

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        feature.Add(buffer.Length);
        inner.Write(buffer);
    }

    public override void WriteByte(byte value)
    {
        feature.Add(1);
        inner.WriteByte(value);
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
    {
        feature.Add(count);
        return inner.WriteAsync(buffer, offset, count, cancellationToken);
    }

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        feature.Add(buffer.Length);
        return inner.WriteAsync(buffer, cancellationToken);
    }
}
