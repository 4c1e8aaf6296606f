using System.Buffers;
using Microsoft.AspNetCore.Http.Features;
using Yarp.ReverseProxy.Transforms;
using Yarp.ReverseProxy.Transforms.Builder;

namespace LbProxy.Transforms;

/// <summary>
/// The origin gets the path as the client spelled it, as nginx and HAProxy pass it, while routing matched on the decoded
/// path. YARP builds the upstream address from the decoded <see cref="HttpRequest.Path"/> and encodes it again
/// (<c>RequestUtilities.MakeDestinationAddress</c>): a percent-encoded byte that is no UTF-8, which Kestrel leaves
/// undecoded, went up double-encoded (<c>/images/caf%E9.jpg</c> as <c>caf%25E9.jpg</c>, a 404), and an encoded unreserved
/// character in another spelling than sent. When the route forwards the path unchanged, this sets the upstream address
/// itself, from the path of <see cref="IHttpRequestFeature.RawTarget"/>, and YARP's own query (a query transform's result,
/// else the query as sent, which Kestrel never decodes). When a route's path transform changed the path, the whole
/// segments it kept at the end keep the client's spelling (<see cref="KeptAsSent"/>).
/// </summary>
/// <remarks>
/// Only a path that means the same to every origin is forwarded as sent: pchar, <c>/</c> and well-formed <c>%XX</c>, no
/// encoded <c>/</c>, <c>\</c> or <c>.</c> (<c>%2F</c>, <c>%5C</c>, <c>%2E</c>: an origin that decodes them would find segments,
/// or dot segments, that routing and the control split never saw) and no <c>.</c> or <c>..</c> segment (Kestrel resolved
/// them before routing). Any other path goes YARP's way, as before; so does a transformed path that kept no whole
/// segment of the client's at its end (PathSet), a path under a path base, and a path with no <c>%</c> at all, which YARP
/// already sends as it came, at no cost here.
/// </remarks>
internal sealed class RequestTargetTransformProvider : ITransformProvider
{
    /// <summary>RFC 3986 pchar without pct-encoded, and <c>/</c>: what a path may carry as it is.</summary>
    private static readonly SearchValues<char> PlainPathChars =
        SearchValues.Create("!$&'()*+,-./0123456789:;=@ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz~");

    public void ValidateRoute(TransformRouteValidationContext context)
    {
    }

    public void ValidateCluster(TransformClusterValidationContext context)
    {
    }

    public void Apply(TransformBuilderContext context) => context.AddRequestTransform(static transform =>
    {
        UsePathAsSent(transform);
        return ValueTask.CompletedTask;
    });

    private static void UsePathAsSent(RequestTransformContext context)
    {
        var request = context.HttpContext.Request;
        if (context.ProxyRequest.RequestUri is not null || request.PathBase.HasValue)
        {
            return; // another transform chose the address, or the path is under a path base
        }

        var rawTarget = context.HttpContext.Features.Get<IHttpRequestFeature>()?.RawTarget;
        if (string.IsNullOrEmpty(rawTarget))
        {
            return;
        }

        var question = rawTarget.IndexOf('?', StringComparison.Ordinal);
        var path = question < 0 ? rawTarget.AsSpan() : rawTarget.AsSpan(0, question);
        if (!path.Contains('%') || !IsForwardableAsSent(path))
        {
            return;
        }

        var sent = request.Path.Value ?? "";
        var forwarded = context.Path.Value ?? "";
        if (!string.Equals(forwarded, sent, StringComparison.Ordinal))
        {
            // A route's path transform changed it: what it kept of the client's path keeps the client's spelling.
            if (KeptAsSent(path, sent, forwarded) is not { } rebuilt)
            {
                return;
            }

            path = rebuilt;
        }

        var prefix = context.DestinationPrefix.AsSpan();
        if (prefix.EndsWith('/'))
        {
            prefix = prefix[..^1]; // the path starts with its own '/'
        }

        context.ProxyRequest.RequestUri = new Uri(string.Concat(prefix, path, context.Query.QueryString.ToUriComponent()), UriKind.Absolute);
    }

    /// <summary>
    /// The upstream path for a path a transform turned from <paramref name="sent"/> (the decoded path, routing's) into
    /// <paramref name="forwarded"/>, when the two end in the same whole segments (PathRemovePrefix, PathPrefix, a
    /// PathPattern ending in its catch-all): the part before them as YARP encodes it, then those segments as the client
    /// spelled them in <paramref name="raw"/>, whose segments decode one for one to those of <paramref name="sent"/>
    /// (<see cref="IsForwardableAsSent"/> holds: no encoded <c>/</c>, no dot segment). Null when they share no whole
    /// segment (PathSet, a pattern that reorders): YARP's way.
    /// </summary>
    internal static string? KeptAsSent(ReadOnlySpan<char> raw, string sent, string forwarded)
    {
        var common = 0;
        while (common < sent.Length && common < forwarded.Length && sent[^(common + 1)] == forwarded[^(common + 1)])
        {
            common++;
        }

        // The longest common tail that starts a segment: at a '/' of both.
        var start = sent.IndexOf('/', sent.Length - common);
        if (start < 0)
        {
            return null;
        }

        var segments = sent.AsSpan(start).Count('/');
        var rawStart = raw.Length;
        for (var i = 0; i < segments; i++)
        {
            rawStart = raw[..rawStart].LastIndexOf('/');
            if (rawStart < 0)
            {
                return null; // not the same segments after all: never guess
            }
        }

        var kept = sent.Length - start;
        return string.Concat(new PathString(forwarded[..^kept]).ToUriComponent(), raw[rawStart..]);
    }

    /// <summary>Whether <paramref name="path"/> means the same to any origin as the decoded path routing saw.</summary>
    internal static bool IsForwardableAsSent(ReadOnlySpan<char> path)
    {
        if (path.IsEmpty || path[0] != '/')
        {
            return false; // the asterisk or absolute form: YARP's way
        }

        for (var i = 0; i < path.Length; i++)
        {
            var c = path[i];
            if (c == '%')
            {
                if (i + 2 >= path.Length || !char.IsAsciiHexDigit(path[i + 1]) || !char.IsAsciiHexDigit(path[i + 2])
                    || IsEncodedSeparatorOrDot(path[i + 1], path[i + 2]))
                {
                    return false;
                }

                i += 2;
            }
            else if (!PlainPathChars.Contains(c))
            {
                return false;
            }
        }

        foreach (var range in path.Split('/'))
        {
            if (path[range] is "." or "..")
            {
                return false;
            }
        }

        return true;
    }

    /// <summary><c>%2F</c> (<c>/</c>), <c>%5C</c> (<c>\</c>) or <c>%2E</c> (<c>.</c>), in either case.</summary>
    private static bool IsEncodedSeparatorOrDot(char high, char low) =>
        (high == '2' && (low is 'F' or 'f' or 'E' or 'e')) || (high == '5' && low is 'C' or 'c');
}
