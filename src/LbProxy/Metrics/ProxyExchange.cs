using System.Runtime.CompilerServices;
using LbProxy.Edge;
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
/// cost an event and its payload per request to listen to. So the request body stream is wrapped here, passing every
/// call straight through (nothing buffered, the server's behaviour unchanged), and the response body is counted by the
/// request's <see cref="ResponseBodyCounter"/>, the same count the access log's <c>{bytes}</c> reads.
/// <para>
/// Nothing is allocated per request (<see cref="ServerRequestScoped{T}"/>); the wrapper always passes through to what
/// the current request had, as Kestrel's own reused streams do.
/// </para>
/// </remarks>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Reliability", "CA1001", Justification = "The wrapper stream owns nothing: it passes through to the server's stream, which the server disposes.")]
internal sealed class ProxyExchange : ServerRequestScoped<ProxyExchange>
{
    private readonly ReadCountingStream _requestBody;
    private ResponseBodyCounter? _response;
    private IHttpRequestFeature? _request;
    private Stream? _originalRequestBody;
    private long _received;
    private long _sentBefore;
    private long _sent;
    private long _firstForward;
    private int _forwards;

    public ProxyExchange()
    {
        _requestBody = new ReadCountingStream(this);
    }

    /// <summary>Request body bytes the proxy read from the client.</summary>
    public long Received => Volatile.Read(ref _received);

    /// <summary>Response body bytes written to the client inside the proxy pipeline (the request's <see cref="ResponseBodyCounter"/>), read at <see cref="End"/>.</summary>
    public long Sent => Volatile.Read(ref _sent);

    /// <summary>Forward attempts timed (0: the request never reached the forwarder: a cache hit, a 429, a 503 of the proxy's own).</summary>
    public int Forwards => Volatile.Read(ref _forwards);

    /// <summary>The timestamp at which the first forward attempt began (valid when <see cref="Forwards"/> is above 0).</summary>
    public long FirstForward => Volatile.Read(ref _firstForward);

    /// <summary>Installs an exchange for this request: its request body is wrapped, and its response body counted, until <see cref="End"/>.</summary>
    public static ProxyExchange? Begin(HttpContext context)
    {
        var features = context.Features;
        if (ResponseBodyCounter.Begin(context) is not { } response)
        {
            return null;
        }

        var request = features.Get<IHttpRequestFeature>();
        var exchange = Rent(features);
        exchange._received = 0;
        exchange._sentBefore = response.Bytes;
        exchange._sent = 0;
        exchange._firstForward = 0;
        exchange._forwards = 0;
        exchange._response = response;
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
        _sent = _response!.Bytes - _sentBefore;
        _response.End(context);
        _response = null;
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

        Return();
    }

    /// <summary>A forward attempt begins at <paramref name="timestamp"/>; the first one's is kept.</summary>
    public void Forwarding(long timestamp)
    {
        if (Interlocked.Increment(ref _forwards) == 1)
        {
            Volatile.Write(ref _firstForward, timestamp);
        }
    }

    private void AddReceived(long bytes) => Interlocked.Add(ref _received, bytes);

    /// <summary>The request body as the pipeline reads it: counts what each read returns.</summary>
    private sealed class ReadCountingStream(ProxyExchange exchange) : ReadOnlyStream
    {
        public Stream Inner { get; set; } = Null;

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

        private int Count(int read)
        {
            exchange.AddReceived(read);
            return read;
        }

        // Pooled: a read that waits for the network costs no allocation either.
        [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
        private async ValueTask<int> AwaitAndCountAsync(ValueTask<int> read) => Count(await read.ConfigureAwait(false));
    }
}
