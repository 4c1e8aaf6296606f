using Microsoft.Extensions.Primitives;

namespace LbProxy.Edge;

/// <summary>
/// The <c>Connection</c> lines a client sent, kept while Kestrel parsed the request's head, for the request guard to
/// put back (Kestrel rewrites <c>Connection: keep-alive, X-Secret</c> to <c>keep-alive</c> before any middleware runs;
/// see <see cref="ConnectionHeaderCapture"/>). One per connection, set in the connection's features, which Kestrel
/// lets every request on the connection read: a request finds it as
/// <c>context.Features.Get&lt;ConnectionHeaderFeature&gt;()</c>. An HTTP/1.x connection parses one request's head at a
/// time, after the previous request has ended, so what is kept belongs to the request being served; the request
/// takes it, and the next one starts from nothing.
/// </summary>
internal sealed class ConnectionHeaderFeature
{
    private StringValues _sent;

    /// <summary>
    /// The lines kept for the request being served, which are then forgotten; empty when the client sent none that
    /// Kestrel could have rewritten (no <c>Connection</c> header, or a bare <c>keep-alive</c> or <c>close</c>).
    /// </summary>
    public StringValues TakeSent()
    {
        var sent = _sent;
        _sent = StringValues.Empty;
        return sent;
    }

    /// <summary>Keeps one decoded <c>Connection</c> line, unless it is a bare <c>keep-alive</c> or <c>close</c>.</summary>
    public void Keep(ReadOnlySpan<char> value)
    {
        var trimmed = value.Trim();
        if (trimmed.Equals("keep-alive", StringComparison.OrdinalIgnoreCase) || trimmed.Equals("close", StringComparison.OrdinalIgnoreCase))
        {
            return;
        }

        _sent = StringValues.Concat(_sent, new string(value));
    }
}
