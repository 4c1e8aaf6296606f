using System.Net;
using LbProxy.SampleOrigin;
using Microsoft.Extensions.Primitives;
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
    private const string ForwardedFor = "X-Forwarded-For";
    private const string ForwardedProto = "X-Forwarded-Proto";
    private const string ForwardedHost = "X-Forwarded-Host";
    private const string ForwardedPrefix = "X-Forwarded-Prefix";
    private const string Forwarded = "Forwarded";

    /// <summary>Other forwarding headers origins may believe; from an untrusted client they are dropped.</summary>
    private static readonly string[] UntrustedForwardingHeaders = ["X-Forwarded-Port", "X-Forwarded-Server", "X-Real-IP"];

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

        if (request.Headers.Connection.Count > 0)
        {
            foreach (var token in ConnectionTokens(request.Headers.Connection))
            {
                // TryGetValues, unlike Remove, does not throw on a name that is no valid token or is a content
                // header: a client's Connection header must never turn into a 502. Content headers
                // (Content-Length, Content-Type) describe the body end to end and are left alone.
                if (upstream.TryGetValues(token, out _))
                {
                    upstream.Remove(token);
                }
            }
        }

        var fromTrustedProxy = trusted.Contains(context.HttpContext.Connection.RemoteIpAddress);
        var client = ClientAddress(context.HttpContext.Connection.RemoteIpAddress);
        var incomingFor = request.Headers[ForwardedFor];
        Replace(upstream, ForwardedFor, fromTrustedProxy && incomingFor.Count > 0 ? $"{incomingFor}, {client}" : client);
        Replace(upstream, ForwardedProto, fromTrustedProxy && request.Headers[ForwardedProto].Count > 0 ? request.Headers[ForwardedProto].ToString() : request.Scheme);
        Replace(upstream, ForwardedHost, fromTrustedProxy && request.Headers[ForwardedHost].Count > 0 ? request.Headers[ForwardedHost].ToString() : request.Host.Value);
        if (!fromTrustedProxy)
        {
            upstream.Remove(ForwardedPrefix);
            upstream.Remove(Forwarded);
        }

        if (!fromTrustedProxy)
        {
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

        Replace(upstream, RequestIdMiddleware.HeaderName, context.HttpContext.TraceIdentifier);
        return ValueTask.CompletedTask;
    }

    private static void TransformResponse(ResponseTransformContext context)
    {
        var response = context.HttpContext.Response;
        if (context.ProxyResponse is { } upstream)
        {
            foreach (var token in upstream.Headers.Connection)
            {
                if (!IsConnectionOption(token))
                {
                    response.Headers.Remove(token);
                }
            }
        }

        if (context.HttpContext.Features.Get<IImageFormatFeature>() is not null
            && response.ContentType is { } type && type.StartsWith("image/", StringComparison.OrdinalIgnoreCase)
            && !VariesByAccept(response.Headers.Vary))
        {
            response.Headers.Vary = StringValues.Concat(response.Headers.Vary, "Accept");
        }

        response.Headers[RequestIdMiddleware.HeaderName] = context.HttpContext.TraceIdentifier;
    }

    /// <summary>The header names a <c>Connection</c> header lists, without its connection options.</summary>
    private static List<string> ConnectionTokens(StringValues connection)
    {
        var tokens = new List<string>();
        foreach (var value in connection)
        {
            foreach (var part in (value ?? "").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            {
                if (!IsConnectionOption(part))
                {
                    tokens.Add(part);
                }
            }
        }

        return tokens;
    }

    private static bool IsConnectionOption(string token) =>
        token.Equals("close", StringComparison.OrdinalIgnoreCase) || token.Equals("keep-alive", StringComparison.OrdinalIgnoreCase)
        || token.Equals("upgrade", StringComparison.OrdinalIgnoreCase);

    private static bool VariesByAccept(StringValues vary)
    {
        foreach (var value in vary)
        {
            foreach (var part in (value ?? "").Split(',', StringSplitOptions.TrimEntries))
            {
                if (part.Equals("Accept", StringComparison.OrdinalIgnoreCase) || part == "*")
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

    private static string ClientAddress(IPAddress? address)
    {
        if (address is null)
        {
            return "";
        }

        if (address.IsIPv4MappedToIPv6)
        {
            return address.MapToIPv4().ToString();
        }

        // A link-local address's %scope names an interface of this host: meaningless upstream.
        return address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 && address.ScopeId != 0
            ? new IPAddress(address.GetAddressBytes()).ToString()
            : address.ToString();
    }
}
