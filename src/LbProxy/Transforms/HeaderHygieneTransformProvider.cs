using System.Collections.Frozen;
using LbProxy.Edge;
using LbProxy.Images;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;
using Yarp.ReverseProxy.Transforms;
using Yarp.ReverseProxy.Transforms.Builder;

namespace LbProxy.Transforms;

/// <summary>
/// Header hygiene on every route, as YARP transforms built once per route:
/// headers named in <c>Connection</c> are hop-by-hop (RFC 9110 §7.6.1) and go no further, either way;
/// <c>X-Forwarded-For/Proto/Host</c> are set by the proxy, extended only for trusted proxies, and <c>Forwarded</c>
/// and <c>X-Forwarded-Prefix</c> from others are dropped; <c>X-Image-Format</c> carries the negotiated class and
/// nothing a client sent; <c>X-Request-Id</c> goes upstream and comes back; image responses of negotiating
/// routes carry <c>Vary: Accept</c>.
/// </summary>
internal sealed class HeaderHygieneTransformProvider(TrustedProxies trusted) : ITransformProvider
{
    /// <summary>Other forwarding headers origins may believe; from an untrusted client they are dropped.</summary>
    private static readonly string[] UntrustedForwardingHeaders = ["X-Forwarded-Port", "X-Forwarded-Server", WellKnownHeaders.RealIp];

    /// <summary>
    /// Headers that describe the body end to end (HttpClient's content headers): a <c>Connection</c> header naming one
    /// is the sender's error (RFC 9110 §7.6.1: a connection option never names a field meant for every recipient), and
    /// obeying it would hand on a body that cannot be read (an image without its type, gzip without its coding). They
    /// are left in place in both directions; on the request side they live in YARP's content headers already.
    /// </summary>
    private static readonly FrozenSet<string> EndToEndContentHeaders = FrozenSet.Create(StringComparer.OrdinalIgnoreCase,
        "Allow", "Content-Disposition", "Content-Encoding", "Content-Language", "Content-Length", "Content-Location",
        "Content-MD5", "Content-Range", "Content-Type", "Expires", "Last-Modified");

    private static readonly FrozenSet<string>.AlternateLookup<ReadOnlySpan<char>> EndToEndContentHeaderSpans =
        EndToEndContentHeaders.GetAlternateLookup<ReadOnlySpan<char>>();

    public void ValidateRoute(TransformRouteValidationContext context)
    {
    }

    public void ValidateCluster(TransformClusterValidationContext context)
    {
    }

    public void Apply(TransformBuilderContext context)
    {
        // YARP's own X-Forwarded transforms trust nobody or everybody per route; ours decide per client.
        context.UseDefaultForwarders = false;
        context.AddRequestTransform(TransformRequest);
        context.AddResponseTransform(static response =>
        {
            TransformResponse(response);
            return ValueTask.CompletedTask;
        });
    }

    private ValueTask TransformRequest(RequestTransformContext context)
    {
        var request = context.HttpContext.Request;
        var upstream = context.ProxyRequest.Headers;

        foreach (var value in request.Headers.Connection)
        {
            var rest = value.AsSpan();
            while (NextToken(ref rest, out var token))
            {
                // TryGetValues, unlike Remove, does not throw on a name that is no valid token or is a content
                // header: a client's Connection header must never turn into a 502. Content headers
                // (Content-Length, Content-Type) describe the body end to end and are left alone.
                if (!IsConnectionOption(token) && upstream.TryGetValues(token.ToString(), out _))
                {
                    upstream.Remove(token.ToString());
                }
            }
        }

        var fromTrustedProxy = trusted.Contains(context.HttpContext.Connection.RemoteIpAddress);
        var client = ClientAddress.ForUpstream(context.HttpContext.Connection.RemoteIpAddress);
        var incomingFor = request.Headers[WellKnownHeaders.ForwardedFor];
        Replace(upstream, WellKnownHeaders.ForwardedFor, fromTrustedProxy && incomingFor.Count > 0 ? $"{incomingFor}, {client}" : client);
        Replace(upstream, WellKnownHeaders.ForwardedProto, fromTrustedProxy && request.Headers[WellKnownHeaders.ForwardedProto].Count > 0 ? request.Headers[WellKnownHeaders.ForwardedProto].ToString() : request.Scheme);
        Replace(upstream, WellKnownHeaders.ForwardedHost, fromTrustedProxy && request.Headers[WellKnownHeaders.ForwardedHost].Count > 0 ? request.Headers[WellKnownHeaders.ForwardedHost].ToString() : request.Host.Value);
        if (!fromTrustedProxy)
        {
            upstream.Remove(WellKnownHeaders.ForwardedPrefix);
            upstream.Remove(WellKnownHeaders.Forwarded);
            foreach (var name in UntrustedForwardingHeaders)
            {
                upstream.Remove(name);
            }
        }

        upstream.Remove(ImageFormats.FormatHeader);
        if (context.HttpContext.Features.Get<IImageFormatFeature>() is { } format)
        {
            upstream.TryAddWithoutValidation(ImageFormats.FormatHeader, format.FormatClass);
        }

        Replace(upstream, WellKnownHeaders.RequestId, context.HttpContext.TraceIdentifier);
        return ValueTask.CompletedTask;
    }

    private static void TransformResponse(ResponseTransformContext context)
    {
        var response = context.HttpContext.Response;
        // The raw values, not Headers.Connection: that typed view is an object per response and a parse under a lock.
        if (context.ProxyResponse is { } upstream && upstream.Headers.NonValidated.TryGetValues(HeaderNames.Connection, out var connection))
        {
            foreach (var value in connection)
            {
                var rest = value.AsSpan();
                while (NextToken(ref rest, out var token))
                {
                    if (!IsConnectionOption(token) && !EndToEndContentHeaderSpans.Contains(token))
                    {
                        response.Headers.Remove(token.ToString());
                    }
                }
            }
        }

        if (context.HttpContext.Features.Get<IImageFormatFeature>() is not null
            && response.ContentType is { } type && type.StartsWith("image/", StringComparison.OrdinalIgnoreCase)
            && !VariesByAccept(response.Headers.Vary))
        {
            response.Headers.Vary = StringValues.Concat(response.Headers.Vary, "Accept");
        }

        response.Headers[WellKnownHeaders.RequestId] = context.HttpContext.TraceIdentifier;
    }

    /// <summary>
    /// The next element of a comma-separated header value (RFC 9110 §5.6.1), trimmed, empty elements skipped;
    /// false at the end. Works on the value in place: no split, no list, no substring.
    /// </summary>
    private static bool NextToken(ref ReadOnlySpan<char> rest, out ReadOnlySpan<char> token)
    {
        while (!rest.IsEmpty)
        {
            var comma = rest.IndexOf(',');
            token = (comma < 0 ? rest : rest[..comma]).Trim();
            rest = comma < 0 ? default : rest[(comma + 1)..];
            if (!token.IsEmpty)
            {
                return true;
            }
        }

        token = default;
        return false;
    }

    private static bool IsConnectionOption(ReadOnlySpan<char> token) =>
        token.Equals("close", StringComparison.OrdinalIgnoreCase) || token.Equals("keep-alive", StringComparison.OrdinalIgnoreCase)
        || token.Equals("upgrade", StringComparison.OrdinalIgnoreCase);

    private static bool VariesByAccept(StringValues vary)
    {
        foreach (var value in vary)
        {
            var rest = value.AsSpan();
            while (NextToken(ref rest, out var token))
            {
                if (token.Equals("Accept", StringComparison.OrdinalIgnoreCase) || token is "*")
                {
                    return true;
                }
            }
        }

        return false;
    }

    private static void Replace(System.Net.Http.Headers.HttpRequestHeaders headers, string name, string? value)
    {
        headers.Remove(name);
        if (!string.IsNullOrEmpty(value))
        {
            headers.TryAddWithoutValidation(name, value);
        }
    }
}
