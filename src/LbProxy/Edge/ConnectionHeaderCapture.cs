using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;

namespace LbProxy.Edge;

/// <summary>
/// Keeps the <c>Connection</c> header of an HTTP/1.x request as the client sent it. Kestrel parses that header
/// itself before any middleware runs (<c>HttpHeaders.ParseConnection</c>, called from <c>Http1MessageBody.For</c>),
/// and when the only connection option it finds is one of <c>keep-alive</c>, <c>close</c> or <c>upgrade</c> it
/// replaces the whole header, every line of it, by that single interned value: <c>Connection: keep-alive, X-Secret</c>
/// reaches the application as <c>Connection: keep-alive</c>, and the header it named looks end to end. Kestrel's one
/// hook that sees a header value before that rewrite is its request header encoding selector, asked for an encoding
/// for each header as the head is parsed; for <c>Connection</c> it gets an encoding (<see cref="RequestHeaderDecoding"/>) that
/// decodes as every header is decoded and keeps a copy of any value that says more than one bare option. The copy
/// lives in a holder that a connection middleware puts in the connection's execution context; the request guard
/// puts the copy back as the request's <c>Connection</c> header (<see cref="RestoreInto"/>). Requests whose
/// <c>Connection</c> header is absent or a bare <c>keep-alive</c> or <c>close</c> allocate nothing here.
/// </summary>
internal static class ConnectionHeaderCapture
{
    private static readonly AsyncLocal<Holder?> Current = new();

    public static bool IsConnection(string headerName) =>
        ReferenceEquals(headerName, HeaderNames.Connection) || headerName.Equals(HeaderNames.Connection, StringComparison.OrdinalIgnoreCase);

    /// <summary>Connection middleware: gives the connection its holder, which every request on it then finds.</summary>
    public static ConnectionDelegate OnConnection(ConnectionDelegate next) => context =>
    {
        Current.Value = new Holder();
        return next(context);
    };

    /// <summary>Puts back the <c>Connection</c> lines the client sent when Kestrel rewrote them; a no-op otherwise.</summary>
    public static void RestoreInto(IHeaderDictionary headers)
    {
        if (Current.Value is not { Values.Count: > 0 } holder)
        {
            return;
        }

        var sent = holder.Values;
        holder.Values = StringValues.Empty;
        if (headers.Connection.Count > 0)
        {
            headers.Connection = sent;
        }
    }

    /// <summary>The captured lines of the request being parsed or served on one connection; its guard takes them.</summary>
    private sealed class Holder
    {
        public StringValues Values;
    }

    /// <summary>Keeps a decoded <c>Connection</c> value unless it is a bare <c>keep-alive</c> or <c>close</c>.</summary>
    internal static void Keep(ReadOnlySpan<char> value)
    {
        var trimmed = value.Trim();
        if (Current.Value is not { } holder
            || trimmed.Equals("keep-alive", StringComparison.OrdinalIgnoreCase)
            || trimmed.Equals("close", StringComparison.OrdinalIgnoreCase))
        {
            return;
        }

        holder.Values = StringValues.Concat(holder.Values, new string(value));
    }
}
