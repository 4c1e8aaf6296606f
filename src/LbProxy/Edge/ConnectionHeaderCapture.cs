using Microsoft.AspNetCore.Connections;
using Microsoft.Net.Http.Headers;

namespace LbProxy.Edge;

/// <summary>
/// Keeps the <c>Connection</c> header of an HTTP/1.x request as the client sent it. Kestrel parses that header
/// itself before any middleware runs (<c>HttpHeaders.ParseConnection</c>, called from <c>Http1MessageBody.For</c>),
/// and when the only connection option it finds is one of <c>keep-alive</c>, <c>close</c> or <c>upgrade</c> it
/// replaces the whole header, every line of it, by that single interned value: <c>Connection: keep-alive, X-Secret</c>
/// reaches the application as <c>Connection: keep-alive</c>, and the header it named looks end to end. Kestrel's one
/// hook that sees a header value before that rewrite is its request header encoding selector, asked for an encoding
/// for each header as the head is parsed; for <c>Connection</c> it gets an encoding (<see cref="RequestHeaderDecoding"/>)
/// that decodes as every header is decoded and keeps a copy of any value that says more than one bare option.
/// </summary>
/// <remarks>
/// The encoding is shared by every connection and is told nothing but the bytes, so it finds the connection's
/// <see cref="ConnectionHeaderFeature"/> through the execution context, where this connection middleware puts it: that
/// ambient reference is the only one, and it stays inside Edge, between the connection middleware and the decoder. The
/// pipeline gets the copy through the feature, set in the connection's features; the request guard reads it there
/// and puts it back as the request's <c>Connection</c> header. Requests whose <c>Connection</c> header is absent or a
/// bare <c>keep-alive</c> or <c>close</c> allocate nothing here.
/// </remarks>
internal static class ConnectionHeaderCapture
{
    private static readonly AsyncLocal<ConnectionHeaderFeature?> Current = new();

    public static bool IsConnection(string headerName) =>
        ReferenceEquals(headerName, HeaderNames.Connection) || headerName.Equals(HeaderNames.Connection, StringComparison.OrdinalIgnoreCase);

    /// <summary>Connection middleware: gives the connection its feature, for the decoder and for every request on it.</summary>
    public static ConnectionDelegate OnConnection(ConnectionDelegate next) => context =>
    {
        var feature = new ConnectionHeaderFeature();
        context.Features.Set(feature);
        Current.Value = feature;
        return next(context);
    };

    /// <summary>Called by the decoder with each decoded <c>Connection</c> value of the head being parsed.</summary>
    internal static void Keep(ReadOnlySpan<char> value) => Current.Value?.Keep(value);
}
