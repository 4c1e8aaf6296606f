using Microsoft.AspNetCore.Http.Features;
using Microsoft.Net.Http.Headers;

namespace LbProxy.Edge;

/// <summary>
/// Refuses, before anything is forwarded, what an edge must not pass on: ambiguous message framing (both
/// <c>Content-Length</c> and <c>Transfer-Encoding</c>, several lengths, a transfer coding other than a single
/// <c>chunked</c>, a <c>Content-Length</c> that is not plain digits such as <c>+5</c>, chunked framing on HTTP/1.0,
/// which has none: RFC 9112 §6.1), the basis of request smuggling between proxies; HTTP/2 and HTTP/3 requests that carry
/// connection-specific headers (malformed, RFC 9113 §8.2.2); <c>OPTIONS *</c>, answered here (a 200 with no body) and
/// never forwarded as <c>OPTIONS /</c>; and methods a reverse proxy cannot forward (<c>CONNECT</c>: 501, but for an
/// HTTP/2 WebSocket handshake, RFC 8441's extended <c>CONNECT</c>, which routing decides) or should not
/// (<c>TRACE</c>: 405). Kestrel refuses most malformed requests itself; this
/// covers what it accepts. First it puts back the <c>Connection</c> lines the client sent, when Kestrel rewrote them
/// (<see cref="ConnectionHeaderFeature"/>), so that every stage after it, and the forwarder that drops the headers they
/// name, sees the header as sent.
/// </summary>
internal sealed class RequestGuardMiddleware(RequestDelegate next)
{
    private const string KestrelRenamedContentLength = "X-Content-Length";

    public Task Invoke(HttpContext context)
    {
        var request = context.Request;
        if (HttpMethods.IsConnect(request.Method) && !IsWebSocketConnect(context))
        {
            return RefuseAsync(context, StatusCodes.Status501NotImplemented, "CONNECT is not supported\n");
        }

        if (HttpMethods.IsTrace(request.Method))
        {
            return RefuseAsync(context, StatusCodes.Status405MethodNotAllowed, "TRACE is not allowed\n");
        }

        if (HttpMethods.IsOptions(request.Method) && IsAsteriskForm(context))
        {
            // About the server, not a resource: answered here as nginx does, never sent upstream as "OPTIONS /".
            context.Response.StatusCode = StatusCodes.Status200OK;
            context.Response.ContentLength = 0;
            return Task.CompletedTask;
        }

        var headers = request.Headers;
        if ((HttpProtocol.IsHttp2(request.Protocol) || HttpProtocol.IsHttp3(request.Protocol)) && HasConnectionSpecificHeader(headers))
        {
            return RefuseAsync(context, StatusCodes.Status400BadRequest, "connection-specific header in an HTTP/2 or HTTP/3 request\n");
        }

        RestoreConnection(context.Features.Get<ConnectionHeaderFeature>(), headers);
        var transferEncoding = headers.TransferEncoding;
        var contentLength = headers.ContentLength;
        // Kestrel itself lets Transfer-Encoding win and renames the Content-Length it came with to
        // X-Content-Length; either spelling next to a Transfer-Encoding is the ambiguity an edge refuses.
        if (transferEncoding.Count > 0 && (headers.ContainsKey(WellKnownHeaders.ContentLength) || headers.ContainsKey(KestrelRenamedContentLength)))
        {
            return RefuseAsync(context, StatusCodes.Status400BadRequest, "both Content-Length and Transfer-Encoding\n");
        }

        if (transferEncoding.Count > 1 || (transferEncoding.Count == 1 && !IsSingleChunked(transferEncoding[0])))
        {
            return RefuseAsync(context, StatusCodes.Status400BadRequest, "unsupported Transfer-Encoding\n");
        }

        if (transferEncoding.Count > 0 && HttpProtocol.IsHttp10(request.Protocol))
        {
            // HTTP/1.0 has no chunked framing: a 1.0 hop before this one would read the body otherwise (RFC 9112 §6.1).
            return RefuseAsync(context, StatusCodes.Status400BadRequest, "Transfer-Encoding in an HTTP/1.0 request\n");
        }

        var lengths = headers[WellKnownHeaders.ContentLength];
        if (lengths.Count > 1 || (contentLength is null && headers.ContainsKey(WellKnownHeaders.ContentLength))
            || (lengths.Count == 1 && !IsDigits(lengths[0])))
        {
            return RefuseAsync(context, StatusCodes.Status400BadRequest, "invalid Content-Length\n");
        }

        return next(context);
    }

    /// <summary>
    /// An HTTP/2 extended <c>CONNECT</c> for a WebSocket (RFC 8441, <c>:protocol websocket</c>): a WebSocket handshake, not a
    /// tunnel to an address, which goes on to routing; a route that did not opt in answers it 501 (<c>Forwarding/WebSocketRoutes</c>).
    /// Any other <c>:protocol</c> is refused here with 501, as RFC 9220 §3 asks of a protocol the server does not support.
    /// </summary>
    internal static bool IsWebSocketConnect(HttpContext context) =>
        context.Features.Get<IHttpExtendedConnectFeature>() is { IsExtendedConnect: true, Protocol: { } protocol }
        && string.Equals(protocol, "websocket", StringComparison.OrdinalIgnoreCase);

    /// <summary>Puts back the <c>Connection</c> lines the client sent when Kestrel rewrote them; a no-op otherwise.</summary>
    private static void RestoreConnection(ConnectionHeaderFeature? captured, IHeaderDictionary headers)
    {
        if (captured is null)
        {
            return;
        }

        var sent = captured.TakeSent();
        if (sent.Count > 0 && headers.Connection.Count > 0)
        {
            headers.Connection = sent;
        }
    }

    /// <summary>
    /// Content-Length is 1*DIGIT (RFC 9110 §8.6): <c>+5</c>, <c>5.0</c> or <c> 5</c> inside are refused, as nginx and HAProxy do.
    /// On Kestrel this is a second line: Kestrel keeps only the number it parsed (<c>+5</c> reads as <c>5</c> here), so the
    /// spelling is checked where it is still bytes, in <see cref="RequestHeaderDecoding"/>, and such a request never gets here.
    /// </summary>
    private static bool IsDigits(string? value)
    {
        var digits = value.AsSpan().Trim(" \t");
        return !digits.IsEmpty && !digits.ContainsAnyExceptInRange('0', '9');
    }

    /// <summary>RFC 9113 §8.2.2: these make an HTTP/2 request malformed (TE is allowed as "trailers" only).</summary>
    private static bool HasConnectionSpecificHeader(IHeaderDictionary headers) =>
        headers.ContainsKey(HeaderNames.Connection) || headers.ContainsKey(HeaderNames.TransferEncoding)
        || headers.ContainsKey(HeaderNames.Upgrade) || headers.ContainsKey(HeaderNames.KeepAlive)
        || headers.ContainsKey(HeaderNames.ProxyConnection)
        || (headers.TryGetValue(HeaderNames.TE, out var te) && !(te.Count == 1 && string.Equals(te[0]?.Trim(), "trailers", StringComparison.OrdinalIgnoreCase)));

    /// <summary>The request target <c>*</c> (RFC 9112 §3.2.4), which Kestrel hands on with an empty path.</summary>
    private static bool IsAsteriskForm(HttpContext context) =>
        context.Features.Get<IHttpRequestFeature>()?.RawTarget == "*";

    private static bool IsSingleChunked(string? value) =>
        value is not null && value.AsSpan().Trim().Equals("chunked", StringComparison.OrdinalIgnoreCase);

    private static Task RefuseAsync(HttpContext context, int status, string reason)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "text/plain; charset=utf-8";
        // The body may be framed in a way we just refused to trust: do not read it, and do not reuse the connection.
        context.Response.Headers.Connection = "close";
        return context.Response.WriteAsync(reason);
    }
}
