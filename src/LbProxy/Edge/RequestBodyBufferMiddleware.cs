using System.Buffers;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;

namespace LbProxy.Edge;

/// <summary>
/// Reads a small request body whole before anything goes upstream, so that Kestrel's check of its framing (chunk
/// lines, a length the client did not send, a size over the limit) fails here, as a 400 (or 413) that no origin sees,
/// instead of halfway through a forward whose head the origin already has. A body whose <c>Content-Length</c> is above
/// <see cref="EdgeOptions.BufferBodyUpTo"/>, or a chunked one that grows past it, streams as before (what was read so far
/// goes first). Requests without a body (nearly all image traffic) take the first branch: no read, no allocation.
/// </summary>
internal sealed class RequestBodyBufferMiddleware(RequestDelegate next, IOptionsMonitor<EdgeOptions> options)
{
    public Task Invoke(HttpContext context)
    {
        var request = context.Request;
        var length = request.ContentLength;
        if (length == 0 || context.Features.Get<IHttpRequestBodyDetectionFeature>() is not { CanHaveBody: true }
            || context.Features.Get<IHttpExtendedConnectFeature>() is { IsExtendedConnect: true }) // its body is the WebSocket's stream
        {
            return next(context);
        }

        var limit = options.CurrentValue.BufferBodyUpTo;
        return limit == 0 || length > limit ? next(context) : BufferThenForwardAsync(context, limit);
    }

    private async Task BufferThenForwardAsync(HttpContext context, int limit)
    {
        var request = context.Request;
        var reader = request.BodyReader;
        byte[] read;
        bool whole;
        try
        {
            while (true)
            {
                var result = await reader.ReadAsync(context.RequestAborted);
                var buffer = result.Buffer;
                if (result.IsCompleted || buffer.Length > limit)
                {
                    read = buffer.ToArray();
                    whole = result.IsCompleted;
                    reader.AdvanceTo(buffer.End);
                    break;
                }

                // Consume nothing: the next read returns this and more, once more has come.
                reader.AdvanceTo(buffer.Start, buffer.End);
            }
        }
        catch (Exception e) when (e is BadHttpRequestException || (e is IOException && e.InnerException is OverflowException))
        {
            // Kestrel found the framing broken or the body too large: it closes the connection after this answer. A chunk
            // size past 2^63 comes as an IOException ("Bad chunk size data.") around an OverflowException, once a 500
            // with a stack trace in the log: a 400 like any other bad chunk.
            var status = e is BadHttpRequestException refused ? refused.StatusCode : StatusCodes.Status400BadRequest;
            context.Response.StatusCode = status;
            context.Response.ContentType = "text/plain; charset=utf-8";
            context.Response.Headers.Connection = "close";
            await context.Response.WriteAsync(status == StatusCodes.Status413PayloadTooLarge
                ? "request body too large\n"
                : "malformed request body\n");
            return;
        }

        request.Body = whole ? new MemoryStream(read, writable: false) : new PrefixedStream(read, request.Body);
        await next(context);
    }
}
