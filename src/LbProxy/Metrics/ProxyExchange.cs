using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using Microsoft.AspNetCore.Http.Features;

namespace LbProxy.Metrics;

/// <summary>
/// What one proxied request moved and waited for, counted as it happens: request body bytes read from the client,
/// response body bytes written to the client, and when the first forward attempt began (the time upstream runs from
/// there to the end of the request: the origin's answer copied to the client, retries included). For <see cref="ProxyMetricsMiddleware"/>,
/// which installs it for the proxy pipeline and reads it when the response is complete.
/// </summary>
/// <remarks>
/// Neither Kestrel nor YARP exposes a per-request byte count: Kestrel keeps its own for the Content-Length check in
/// private fields, YARP's <c>StreamCopier</c> counts only for its EventSource (<c>ContentTransferred</c>), which would
/// cost an event and its payload per request to listen to. So the body streams are wrapped here; the wrappers pass
/// every call straight through (nothing buffered, the server's behaviour unchanged).
/// <para>
/// Nothing is allocated per request: one exchange (with its wrappers) belongs to one Kestrel request object, which
/// Kestrel itself reuses for the requests of an HTTP/1.1 connection and pools for the streams of an HTTP/2 one, and
/// is found again through a weak table keyed on that object. Its wrappers always pass through to what the current
/// request had, as Kestrel's own reused streams do.
/// </para>
/// </remarks>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Reliability", "CA1001", Justification = "The wrapper streams own nothing: they pass through to the server's streams, which the server disposes.")]
internal sealed class ProxyExchange : IHttpResponseBodyFeature
{
    private static readonly ConditionalWeakTable<object, ProxyExchange> ByServerRequest = [];

    private readonly ReadCountingStream _requestBody;
    private readonly WriteCountingStream _responseStream;
    private WriteCountingPipeWriter? _responseWriter;
    private IHttpResponseBodyFeature _response = null!;
    private IHttpRequestFeature? _request;
    private Stream? _originalRequestBody;
    private int _inUse;
    private long _received;
    private long _sent;
    private long _firstForward;
    private int _forwards;

    private ProxyExchange()
    {
        _requestBody = new ReadCountingStream(this);
        _responseStream = new WriteCountingStream(this);
    }

    /// <summary>Request body bytes the proxy read from the client.</summary>
    public long Received => Volatile.Read(ref _received);

    /// <summary>Response body bytes written to the client (what passed to the server; a send file counts its length).</summary>
    public long Sent => Volatile.Read(ref _sent);

    /// <summary>Forward attempts timed (0: the request never reached the forwarder: a cache hit, a 429, a 503 of the proxy's own).</summary>
    public int Forwards => Volatile.Read(ref _forwards);

    /// <summary>The timestamp at which the first forward attempt began (valid when <see cref="Forwards"/> is above 0).</summary>
    public long FirstForward => Volatile.Read(ref _firstForward);

    Stream IHttpResponseBodyFeature.Stream => _responseStream;

    PipeWriter IHttpResponseBodyFeature.Writer => _responseWriter ??= new WriteCountingPipeWriter(this);

    /// <summary>Installs an exchange for this request: its body features are wrapped until <see cref="End"/>.</summary>
    public static ProxyExchange? Begin(HttpContext context)
    {
        var features = context.Features;
        if (features.Get<IHttpResponseBodyFeature>() is not { } response)
        {
            return null;
        }

        // Kestrel's request object implements IHttpRequestFeature and is never replaced: the key that outlives the
        // request. Should it ever be shared by two requests at once, the second gets an exchange of its own.
        var request = features.Get<IHttpRequestFeature>();
        var exchange = request is null ? new ProxyExchange() : ByServerRequest.GetValue(request, static _ => new ProxyExchange());
        if (Interlocked.Exchange(ref exchange._inUse, 1) != 0)
        {
            exchange = new ProxyExchange { _inUse = 1 };
        }

        exchange._received = 0;
        exchange._sent = 0;
        exchange._firstForward = 0;
        exchange._forwards = 0;
        exchange._response = response;
        features.Set<IHttpResponseBodyFeature>(exchange);
        features.Set(exchange);
        if (request is not null && features.Get<IHttpRequestBodyDetectionFeature>() is not { CanHaveBody: false })
        {
            exchange._request = request;
            exchange._originalRequestBody = request.Body;
            exchange._requestBody.Inner = request.Body;
            request.Body = exchange._requestBody;
        }

        return exchange;
    }

    /// <summary>The exchange of a request inside the proxy pipeline, for the forwarder's timing.</summary>
    public static ProxyExchange? Of(HttpContext context) => context.Features.Get<ProxyExchange>();

    /// <summary>Puts back what <see cref="Begin"/> wrapped; the counts stay readable until the next request's Begin.</summary>
    public void End(HttpContext context)
    {
        var features = context.Features;
        if (ReferenceEquals(features.Get<IHttpResponseBodyFeature>(), this))
        {
            features.Set(_response);
        }

        features.Set<ProxyExchange>(null);
        if (_request is { } request)
        {
            if (ReferenceEquals(request.Body, _requestBody))
            {
                request.Body = _originalRequestBody!;
            }

            _request = null;
            _originalRequestBody = null;
        }

        Volatile.Write(ref _inUse, 0);
    }

    /// <summary>A forward attempt begins at <paramref name="timestamp"/>; the first one's is kept.</summary>
    public void Forwarding(long timestamp)
    {
        if (Interlocked.Increment(ref _forwards) == 1)
        {
            Volatile.Write(ref _firstForward, timestamp);
        }
    }

    public void DisableBuffering() => _response.DisableBuffering();

    public Task StartAsync(CancellationToken cancellationToken = default) => _response.StartAsync(cancellationToken);

    public Task CompleteAsync() => _response.CompleteAsync();

    public Task SendFileAsync(string path, long offset, long? count, CancellationToken cancellationToken = default)
    {
        AddSent(count ?? Math.Max(0, new FileInfo(path).Length - offset));
        return _response.SendFileAsync(path, offset, count, cancellationToken);
    }

    private void AddSent(long bytes) => Interlocked.Add(ref _sent, bytes);

    private void AddReceived(long bytes) => Interlocked.Add(ref _received, bytes);

    /// <summary>The request body as the pipeline reads it: counts what each read returns.</summary>
    private sealed class ReadCountingStream(ProxyExchange exchange) : Stream
    {
        public Stream Inner { get; set; } = Null;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        public override int Read(byte[] buffer, int offset, int count) => Count(Inner.Read(buffer, offset, count));

        public override int Read(Span<byte> buffer) => Count(Inner.Read(buffer));

        public override int ReadByte()
        {
            var b = Inner.ReadByte();
            if (b >= 0)
            {
                exchange.AddReceived(1);
            }

            return b;
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            var read = Inner.ReadAsync(buffer, cancellationToken);
            return read.IsCompletedSuccessfully ? new ValueTask<int>(Count(read.Result)) : AwaitAndCountAsync(read);
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        private int Count(int read)
        {
            exchange.AddReceived(read);
            return read;
        }

        // Pooled: a read that waits for the network costs no allocation either.
        [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
        private async ValueTask<int> AwaitAndCountAsync(ValueTask<int> read) => Count(await read.ConfigureAwait(false));
    }

    /// <summary>The response body stream: counts, then writes through.</summary>
    private sealed class WriteCountingStream(ProxyExchange exchange) : Stream
    {
        private Stream Inner => exchange._response.Stream;

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        public override void Flush() => Inner.Flush();

        public override Task FlushAsync(CancellationToken cancellationToken) => Inner.FlushAsync(cancellationToken);

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count)
        {
            exchange.AddSent(count);
            Inner.Write(buffer, offset, count);
        }

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            exchange.AddSent(buffer.Length);
            Inner.Write(buffer);
        }

        public override void WriteByte(byte value)
        {
            exchange.AddSent(1);
            Inner.WriteByte(value);
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        {
            exchange.AddSent(count);
            return Inner.WriteAsync(buffer, offset, count, cancellationToken);
        }

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            exchange.AddSent(buffer.Length);
            return Inner.WriteAsync(buffer, cancellationToken);
        }
    }

    /// <summary>The response body writer: counts what is advanced or written, then passes through.</summary>
    private sealed class WriteCountingPipeWriter(ProxyExchange exchange) : PipeWriter
    {
        private PipeWriter Inner => exchange._response.Writer;

        public override bool CanGetUnflushedBytes => Inner.CanGetUnflushedBytes;

        public override long UnflushedBytes => Inner.UnflushedBytes;

        public override void Advance(int bytes)
        {
            exchange.AddSent(bytes);
            Inner.Advance(bytes);
        }

        public override Memory<byte> GetMemory(int sizeHint = 0) => Inner.GetMemory(sizeHint);

        public override Span<byte> GetSpan(int sizeHint = 0) => Inner.GetSpan(sizeHint);

        public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default) => Inner.FlushAsync(cancellationToken);

        public override ValueTask<FlushResult> WriteAsync(ReadOnlyMemory<byte> source, CancellationToken cancellationToken = default)
        {
            // The inner writer's WriteAsync does not come back through Advance here: counted once.
            exchange.AddSent(source.Length);
            return Inner.WriteAsync(source, cancellationToken);
        }

        public override void CancelPendingFlush() => Inner.CancelPendingFlush();

        public override void Complete(Exception? exception = null) => Inner.Complete(exception);

        public override ValueTask CompleteAsync(Exception? exception = null) => Inner.CompleteAsync(exception);
    }
}
