using System.Buffers;
using System.Globalization;
using LbProxy.Edge;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;

namespace LbProxy.Caching;

/// <summary>
/// Answers from memory: a stored entry (with <c>Age</c>, a 304 to a matching conditional request, a 206 to a single
/// byte range), or the response another request is receiving, streamed as its bytes arrive.
/// </summary>
internal static class CacheResponder
{
    public const string CacheStatusHeader = "Cache-Status";

    /// <summary>
    /// Response headers that belong to one connection or one answer, never stored or replayed. The request id and
    /// HSTS are the edge's own, set on every answer (a hit too): stored, every hit carried the id of the miss that
    /// stored it, and an entry stored over HTTPS would have sent HSTS over plain HTTP.
    /// </summary>
    private static readonly HashSet<string> NotReplayed = new(StringComparer.OrdinalIgnoreCase)
    {
        HeaderNames.Connection, HeaderNames.KeepAlive, HeaderNames.TransferEncoding, HeaderNames.Upgrade,
        HeaderNames.ProxyAuthenticate, HeaderNames.Trailer, HeaderNames.TE, HeaderNames.ContentLength,
        HeaderNames.Age, CacheStatusHeader, HeaderNames.SetCookie, "Proxy-Connection",
        WellKnownHeaders.RequestId, HeaderNames.StrictTransportSecurity,
    };

    /// <summary>The response headers worth storing, copied.</summary>
    public static KeyValuePair<string, StringValues>[] Snapshot(IHeaderDictionary headers)
    {
        var kept = new List<KeyValuePair<string, StringValues>>(headers.Count);
        foreach (var header in headers)
        {
            if (!NotReplayed.Contains(header.Key))
            {
                kept.Add(header);
            }
        }

        return [.. kept];
    }

    /// <summary>
    /// Answers <paramref name="entry"/>; false (nothing written) when its body was released meanwhile (evicted and
    /// no longer readable), and the caller goes to the origin.
    /// </summary>
    public static async Task<bool> ServeEntryAsync(HttpContext context, CacheEntry entry, DateTimeOffset now, string cacheStatus)
    {
        if (!entry.Body.TryAcquire())
        {
            return false;
        }

        try
        {
            var request = context.Request;
            var response = context.Response;
            response.StatusCode = entry.StatusCode;
            var headers = response.Headers;
            foreach (var (name, value) in entry.Headers)
            {
                headers[name] = value;
            }

            headers.Age = ((long)entry.AgeAt(now).TotalSeconds).ToString(CultureInfo.InvariantCulture);
            headers[CacheStatusHeader] = cacheStatus;
            headers.AcceptRanges = "bytes";

            if (NotModified(request.Headers, entry))
            {
                response.StatusCode = StatusCodes.Status304NotModified;
                headers.ContentType = default;
                headers.ContentEncoding = default;
                headers.AcceptRanges = default;
                return true;
            }

            long start = 0, end = entry.Length;
            if (HttpMethods.IsGet(request.Method) && RangeOf(request.Headers, entry) is var (from, to, satisfiable))
            {
                if (!satisfiable)
                {
                    response.StatusCode = StatusCodes.Status416RangeNotSatisfiable;
                    headers.ContentRange = $"bytes */{entry.Length}";
                    headers.ContentType = default;
                    response.ContentLength = 0;
                    return true;
                }

                response.StatusCode = StatusCodes.Status206PartialContent;
                headers.ContentRange = $"bytes {from}-{to - 1}/{entry.Length}";
                (start, end) = (from, to);
            }

            response.ContentLength = end - start;
            if (!HttpMethods.IsHead(request.Method))
            {
                await WriteBodyAsync(context, entry.Body, start, end);
            }

            return true;
        }
        finally
        {
            entry.Body.Release();
        }
    }

    /// <summary>
    /// Streams the response another request is receiving from the origin, as its bytes arrive; false (nothing
    /// written) when its body is gone already. A body that fails midway aborts this response: it cannot be completed.
    /// </summary>
    public static async Task<bool> ServeFlightAsync(HttpContext context, Flight flight, string cacheStatus)
    {
        var body = flight.Body!;
        if (!body.TryAcquire())
        {
            return false;
        }

        try
        {
            var response = context.Response;
            response.StatusCode = flight.StatusCode;
            foreach (var (name, value) in flight.Headers)
            {
                response.Headers[name] = value;
            }

            response.Headers[CacheStatusHeader] = cacheStatus;
            var length = body.ExpectedLength;
            response.ContentLength = length;
            if (!HttpMethods.IsHead(context.Request.Method))
            {
                await WriteBodyAsync(context, body, 0, length);
            }

            return true;
        }
        finally
        {
            body.Release();
        }
    }

    private static async Task WriteBodyAsync(HttpContext context, CacheBody body, long start, long end)
    {
        var response = context.Response;
        var writer = response.BodyWriter;
        var aborted = context.RequestAborted;
        if (!response.HasStarted)
        {
            // The head goes into the connection's pipe first, so the body is copied into the pipe once. Written before
            // the response has started, Kestrel holds body bytes in buffers of its own and copies them into the pipe
            // again behind the head at the first flush (measured with perf: a second memmove of each 100 KiB hit).
            await response.StartAsync(aborted);
        }

        for (var offset = start; offset < end;)
        {
            if (body.Length <= offset && !await body.WaitAsync(offset, aborted))
            {
                context.Abort(); // the origin's body failed midway: this response cannot be completed
                return;
            }

            // What has arrived is copied into the response's pipe and flushed once: one write to the socket for a
            // whole stored body instead of one per 16 KiB array (measured in bench/cache.py: CPU per 100 KiB hit).
            var available = Math.Min(end, body.Length);
            while (offset < available)
            {
                var segment = body.Segment(offset, available);
                writer.Write(segment.Span);
                offset += segment.Length;
            }

            var flushed = await writer.FlushAsync(aborted);
            if (flushed.IsCanceled || flushed.IsCompleted)
            {
                return;
            }
        }
    }

    /// <summary>RFC 9110 §13.1.2: <c>If-None-Match</c> (weak comparison) decides when present; else <c>If-Modified-Since</c>.</summary>
    internal static bool NotModified(IHeaderDictionary request, CacheEntry entry)
    {
        var ifNoneMatch = request.IfNoneMatch;
        if (ifNoneMatch.Count > 0)
        {
            if (entry.ETag is null)
            {
                return false;
            }

            var stored = Opaque(entry.ETag);
            foreach (var value in ifNoneMatch)
            {
                foreach (var tag in (value ?? "").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
                {
                    if (tag == "*" || Opaque(tag) == stored)
                    {
                        return true;
                    }
                }
            }

            return false;
        }

        return request.IfModifiedSince.Count > 0
            && entry.LastModified is { } lastModified
            && HeaderUtilities.TryParseDate(request.IfModifiedSince.ToString(), out var since)
            && lastModified <= since;
    }

    /// <summary>
    /// One byte range of a GET (<c>bytes=a-b</c>, <c>a-</c>, <c>-n</c>) as [from, to), and whether it is satisfiable;
    /// null to answer the whole body: no <c>Range</c>, several ranges, a unit other than bytes, or an <c>If-Range</c>
    /// that does not match (RFC 9110 §14.2: a server may ignore Range).
    /// </summary>
    internal static (long From, long To, bool Satisfiable)? RangeOf(IHeaderDictionary request, CacheEntry entry)
    {
        var range = request.Range;
        if (range.Count != 1 || range[0] is not { } text || !text.StartsWith("bytes=", StringComparison.OrdinalIgnoreCase) || text.Contains(',', StringComparison.Ordinal))
        {
            return null;
        }

        if (request.IfRange.Count > 0)
        {
            var ifRange = request.IfRange.ToString();
            var matches = ifRange.StartsWith('"')
                ? entry.ETag is { } etag && !etag.StartsWith("W/", StringComparison.Ordinal) && etag == ifRange
                : entry.LastModified is { } lastModified && HeaderUtilities.TryParseDate(ifRange, out var date) && date == lastModified;
            if (!matches)
            {
                return null;
            }
        }

        var spec = text.AsSpan(6).Trim();
        var dash = spec.IndexOf('-');
        if (dash < 0)
        {
            return null;
        }

        var length = entry.Length;
        var first = spec[..dash].Trim();
        var last = spec[(dash + 1)..].Trim();
        if (first.IsEmpty)
        {
            if (!long.TryParse(last, NumberStyles.None, CultureInfo.InvariantCulture, out var suffix))
            {
                return null;
            }

            return suffix == 0 || length == 0 ? (0, 0, false) : (Math.Max(0, length - suffix), length, true);
        }

        if (!long.TryParse(first, NumberStyles.None, CultureInfo.InvariantCulture, out var from))
        {
            return null;
        }

        var to = length;
        if (!last.IsEmpty)
        {
            if (!long.TryParse(last, NumberStyles.None, CultureInfo.InvariantCulture, out var lastByte) || lastByte < from)
            {
                return null;
            }

            to = Math.Min(length, lastByte + 1);
        }

        return from >= length ? (0, 0, false) : (from, to, true);
    }

    private static string Opaque(string tag) => tag.StartsWith("W/", StringComparison.Ordinal) ? tag[2..] : tag;
}
