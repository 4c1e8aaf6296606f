using System.IO.Pipelines;
using Microsoft.AspNetCore.Http.Features;

namespace LbProxy.Caching;

/// <summary>What the response body of a forwarded request does once its status and headers are known.</summary>
internal enum CaptureMode
{
    Undecided,

    /// <summary>Written to the client and copied into a <see cref="CacheBody"/> for the waiters and the hot set.</summary>
    Capture,

    /// <summary>Written to the client only.</summary>
    PassThrough,

    /// <summary>
    /// Not written: the origin's 5xx is replaced by a stale entry, or its 304 to a revalidation by the refreshed
    /// entry. Nothing reaches the client, so the response has not started when the forward returns.
    /// </summary>
    Swallow,
}

/// <summary>
/// The response body feature of the request that leads an origin request: at its first byte (or its start, or the
/// forward's end for a response without a body) it asks <paramref name="decide"/> what to do, then tees each write
/// into the body being stored, or drops it. Nothing is buffered on the client's side: each write goes through as it
/// comes, so the client is not slowed.
/// </summary>
internal sealed class CaptureBodyFeature(IHttpResponseBodyFeature inner, Func<CaptureBodyFeature, CaptureMode> decide) : IHttpResponseBodyFeature
{
    private CaptureStream? _stream;
    private PipeWriter? _writer;

    public IHttpResponseBodyFeature Inner => inner;

    public CaptureMode Mode { get; private set; }

    /// <summary>Set by <c>decide</c> when the mode is <see cref="CaptureMode.Capture"/>.</summary>
    public CacheBody? Body { get; set; }

    public Stream Stream => _stream ??= new CaptureStream(this);

    public PipeWriter Writer => _writer ??= PipeWriter.Create(Stream, new StreamPipeWriterOptions(leaveOpen: true));

    public CaptureMode Decide()
    {
        if (Mode == CaptureMode.Undecided)
        {
            Mode = decide(this);
        }

        return Mode;
    }

    public void DisableBuffering() => inner.DisableBuffering();

    public Task StartAsync(CancellationToken cancellationToken = default) =>
        Decide() == CaptureMode.Swallow ? Task.CompletedTask : inner.StartAsync(cancellationToken);

    public Task CompleteAsync() => Decide() == CaptureMode.Swallow ? Task.CompletedTask : inner.CompleteAsync();

    public Task SendFileAsync(string path, long offset, long? count, CancellationToken cancellationToken = default)
    {
        // Not how YARP writes; whatever does is not copied.
        if (Decide() == CaptureMode.Swallow)
        {
            return Task.CompletedTask;
        }

        StopCapture();
        return inner.SendFileAsync(path, offset, count, cancellationToken);
    }

    internal bool Take(ReadOnlySpan<byte> data)
    {
        switch (Decide())
        {
            case CaptureMode.Swallow:
                return false;
            case CaptureMode.Capture when Body is { } body && !body.Append(data):
                StopCapture(); // more than Content-Length or MaxObjectBytes: the rest goes through only
                break;
        }

        return true;
    }

    private void StopCapture()
    {
        if (Mode == CaptureMode.Capture)
        {
            Body?.Fail();
            Mode = CaptureMode.PassThrough;
        }
    }

    /// <summary>The stream YARP copies the origin's body into.</summary>
    private sealed class CaptureStream(CaptureBodyFeature feature) : Stream
    {
        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        private Stream Inner => feature.Inner.Stream;

        public override void Flush()
        {
            if (feature.Decide() != CaptureMode.Swallow)
            {
                Inner.Flush();
            }
        }

        public override Task FlushAsync(CancellationToken cancellationToken) =>
            feature.Decide() == CaptureMode.Swallow ? Task.CompletedTask : Inner.FlushAsync(cancellationToken);

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            if (feature.Take(buffer))
            {
                Inner.Write(buffer);
            }
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) =>
            feature.Take(buffer.Span) ? Inner.WriteAsync(buffer, cancellationToken) : ValueTask.CompletedTask;
    }
}
