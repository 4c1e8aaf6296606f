using System.IO.Pipelines;
using Microsoft.AspNetCore.Http.Features;

namespace LbProxy.Edge;

/// <summary>
/// Counts the response body bytes of one request as they pass to the server's own body feature: the one count that
/// the access log's <c>{bytes}</c> and the proxy's byte metrics both read. Nothing is buffered: every call goes
/// straight through, so the server's behaviour (when the response starts, flushing, completion) is unchanged.
/// </summary>
/// <remarks>
/// Whoever needs the count calls <see cref="Begin"/> and, when the response is complete, <see cref="End"/>. A second
/// user inside the first (the proxy pipeline inside the access log) shares the counter already installed and reads
/// the bytes counted since its own Begin; the wrapper is installed once and taken out by the last End.
/// <para>
/// Nothing is allocated per request (<see cref="ServerRequestScoped{T}"/>); the wrappers pass through to what the
/// current request had.
/// </para>
/// </remarks>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Reliability", "CA1001", Justification = "The wrapper streams own nothing: they pass through to the server's streams, which the server disposes.")]
internal sealed class ResponseBodyCounter : ServerRequestScoped<ResponseBodyCounter>, IHttpResponseBodyFeature
{
    private readonly CountingStream _stream;
    private CountingPipeWriter? _writer;
    private IHttpResponseBodyFeature _inner = null!;
    private int _users;
    private long _bytes;

    public ResponseBodyCounter() => _stream = new CountingStream(this);

    /// <summary>Response body bytes passed to the server since the first user's Begin (a send file counts its length).</summary>
    public long Bytes => Interlocked.Read(ref _bytes);

    Stream IHttpResponseBodyFeature.Stream => _stream;

    PipeWriter IHttpResponseBodyFeature.Writer => _writer ??= new CountingPipeWriter(this);

    /// <summary>
    /// The request's counter, installed now or shared with a user already counting; null when the request has no body
    /// feature. Read <see cref="Bytes"/> here and before <see cref="End"/> for what passed between.
    /// </summary>
    public static ResponseBodyCounter? Begin(HttpContext context)
    {
        var features = context.Features;
        if (features.Get<ResponseBodyCounter>() is { _users: > 0 } installed)
        {
            installed._users++;
            return installed;
        }

        if (features.Get<IHttpResponseBodyFeature>() is not { } inner)
        {
            return null;
        }

        var counter = Rent(features);
        counter._bytes = 0;
        counter._users = 1;
        counter._inner = inner;
        features.Set<IHttpResponseBodyFeature>(counter);
        features.Set(counter);
        return counter;
    }

    /// <summary>One user is done; the last one puts back the server's feature. The count stays readable until the next Begin.</summary>
    public void End(HttpContext context)
    {
        if (--_users > 0)
        {
            return;
        }

        var features = context.Features;
        if (ReferenceEquals(features.Get<IHttpResponseBodyFeature>(), this))
        {
            features.Set(_inner);
        }

        features.Set<ResponseBodyCounter>(null);
        Return();
    }

    public void DisableBuffering() => _inner.DisableBuffering();

    public Task StartAsync(CancellationToken cancellationToken = default) => _inner.StartAsync(cancellationToken);

    public Task CompleteAsync() => _inner.CompleteAsync();

    public Task SendFileAsync(string path, long offset, long? count, CancellationToken cancellationToken = default)
    {
        Add(count ?? Math.Max(0, new FileInfo(path).Length - offset));
        return _inner.SendFileAsync(path, offset, count, cancellationToken);
    }

    private void Add(long bytes) => Interlocked.Add(ref _bytes, bytes);

    /// <summary>The response body stream: counts, then writes through.</summary>
    private sealed class CountingStream(ResponseBodyCounter counter) : WriteOnlyStream
    {
        private Stream Inner => counter._inner.Stream;

        public override void Flush() => Inner.Flush();

        public override Task FlushAsync(CancellationToken cancellationToken) => Inner.FlushAsync(cancellationToken);

        public override void Write(byte[] buffer, int offset, int count)
        {
            counter.Add(count);
            Inner.Write(buffer, offset, count);
        }

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            counter.Add(buffer.Length);
            Inner.Write(buffer);
        }

        public override void WriteByte(byte value)
        {
            counter.Add(1);
            Inner.WriteByte(value);
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        {
            counter.Add(count);
            return Inner.WriteAsync(buffer, offset, count, cancellationToken);
        }

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            counter.Add(buffer.Length);
            return Inner.WriteAsync(buffer, cancellationToken);
        }
    }

    /// <summary>The response body writer: counts what is advanced or written, then passes through.</summary>
    private sealed class CountingPipeWriter(ResponseBodyCounter counter) : PipeWriter
    {
        private PipeWriter Inner => counter._inner.Writer;

        public override bool CanGetUnflushedBytes => Inner.CanGetUnflushedBytes;

        public override long UnflushedBytes => Inner.UnflushedBytes;

        public override void Advance(int bytes)
        {
            counter.Add(bytes);
            Inner.Advance(bytes);
        }

        public override Memory<byte> GetMemory(int sizeHint = 0) => Inner.GetMemory(sizeHint);

        public override Span<byte> GetSpan(int sizeHint = 0) => Inner.GetSpan(sizeHint);

        public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default) => Inner.FlushAsync(cancellationToken);

        public override ValueTask<FlushResult> WriteAsync(ReadOnlyMemory<byte> source, CancellationToken cancellationToken = default)
        {
            // The inner writer's WriteAsync does not come back through Advance here: counted once.
            counter.Add(source.Length);
            return Inner.WriteAsync(source, cancellationToken);
        }

        public override void CancelPendingFlush() => Inner.CancelPendingFlush();

        public override void Complete(Exception? exception = null) => Inner.Complete(exception);

        public override ValueTask CompleteAsync(Exception? exception = null) => Inner.CompleteAsync(exception);
    }
}
