namespace LbProxy.Edge;

/// <summary>
/// Refuses, before anything is forwarded, what an edge must not pass on: ambiguous message framing (both
/// <c>Content-Length</c> and <c>Transfer-Encoding</c>, several lengths, a transfer coding other than a single
/// <c>chunked</c>), the basis of request smuggling between proxies; and methods a reverse proxy cannot forward
/// (<c>CONNECT</c>: 501) or should not (<c>TRACE</c>: 405). Kestrel refuses most malformed requests itself; this
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
        if (HttpMethods.IsConnect(request.Method))
        {
            return RefuseAsync(context, StatusCodes.Status501NotImplemented, "CONNECT is not supported\n");
        }

        if (HttpMethods.IsTrace(request.Method))
        {
            return RefuseAsync(context, StatusCodes.Status405MethodNotAllowed, "TRACE is not allowed\n");
        }

        var headers = request.Headers;
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

        if (headers[WellKnownHeaders.ContentLength].Count > 1 || (contentLength is null && headers.ContainsKey(WellKnownHeaders.ContentLength)))
        {
            return RefuseAsync(context, StatusCodes.Status400BadRequest, "invalid Content-Length\n");
        }

        return next(context);
    }

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
