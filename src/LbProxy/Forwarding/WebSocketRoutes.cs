using LbProxy.Configuration;
using Microsoft.AspNetCore.Http.Features;
using Yarp.ReverseProxy.Model;

namespace LbProxy.Forwarding;

/// <summary>
/// Protocol upgrades (WebSocket over HTTP/1.1 or HTTP/2, and the SPDY upgrades YARP also forwards) go through only on routes whose metadata says
/// <c>"WebSockets.Enabled": "true"</c>. On every other route an upgrade request is forwarded as the plain request it
/// also is, without its <c>Upgrade</c> and <c>Connection: upgrade</c>, which is what nginx does on a location without
/// <c>proxy_set_header Upgrade</c>: the origin answers it as a GET (an image route serves the image, a WebSocket client
/// sees no <c>101</c> and gives up). Not a refusal: a stray <c>Upgrade: h2c</c> from <c>curl --http2</c> or an
/// intermediary must not cost an image its answer, and an operator who never opted in gets no long-lived tunnels to
/// image origins, which hold a connection and an upgraded-connection slot each for as long as the client likes.
/// </summary>
/// <remarks>
/// YARP forwards an upgrade when <see cref="IHttpUpgradeFeature.IsUpgradableRequest"/> says so; on a route that did not
/// opt in, the request gets a feature that says it is not, and that it has no body (Kestrel takes a request with
/// <c>Connection: upgrade</c> as upgradable only when it has neither <c>Content-Length</c> nor <c>Transfer-Encoding</c>,
/// so as a plain request it has none; its body stream is meant for the upgraded connection). YARP leaves <c>Upgrade</c> and <c>Connection</c> out of any request it does not upgrade.
/// A WebSocket over HTTP/2 (extended <c>CONNECT</c>, RFC 8441, which Kestrel accepts) goes through on an opted-in route
/// as well, YARP sending it upstream as the HTTP/1.1 upgrade; on any other route it is answered 501 and never forwarded:
/// there is no plain request to fall back to, since a 2xx to the <c>CONNECT</c> would be the tunnel's opening.
/// </remarks>
internal static class WebSocketRoutes
{
    public const string MetadataKey = "WebSockets.Enabled";

    /// <summary>Whether <paramref name="route"/> opted in; a value other than <c>true</c> or <c>false</c> never passes the config check.</summary>
    public static bool Allows(RouteModel route) =>
        route.Config.Metadata is { } metadata && metadata.TryGetValue(MetadataKey, out var text) && Parse(text) == true;

    /// <summary><c>true</c> or <c>false</c> in any case; null for anything else.</summary>
    public static bool? Parse(string? text) => bool.TryParse(text?.Trim(), out var value) ? value : null;

    /// <summary>In YARP's pipeline: a request on a route that did not opt in is not upgradable, and forwarded as a plain one.</summary>
    public static IReverseProxyApplicationBuilder UseWebSocketRoutes(this IReverseProxyApplicationBuilder proxy)
    {
        proxy.Use(static (context, next) =>
        {
            if (context.Features.Get<IHttpExtendedConnectFeature>() is { IsExtendedConnect: true } && !Allows(context.GetReverseProxyFeature().Route))
            {
                // HTTP/2 has no plain request to fall back to: a 2xx to this CONNECT would open the tunnel, so it is refused,
                // with RFC 9220 §3's 501 for a protocol the server does not support (here).
                context.Response.StatusCode = StatusCodes.Status501NotImplemented;
                context.Response.ContentType = "text/plain; charset=utf-8";
                context.Response.Headers.CacheControl = "no-store";
                return context.Response.WriteAsync("WebSockets are not enabled on this route\n", context.RequestAborted);
            }

            if (context.Features.Get<IHttpUpgradeFeature>() is { IsUpgradableRequest: true } && !Allows(context.GetReverseProxyFeature().Route))
            {
                context.Features.Set<IHttpUpgradeFeature>(PlainRequest.Instance);
                context.Features.Set<IHttpRequestBodyDetectionFeature>(PlainRequest.Instance);
            }

            return next(context);
        });
        return proxy;
    }

    /// <summary>What an upgrade request on a route without upgrades is: no upgrade, and no body.</summary>
    private sealed class PlainRequest : IHttpUpgradeFeature, IHttpRequestBodyDetectionFeature
    {
        public static readonly PlainRequest Instance = new();

        public bool IsUpgradableRequest => false;

        public bool CanHaveBody => false;

        public Task<Stream> UpgradeAsync() => throw new InvalidOperationException("upgrades are not enabled on this route");
    }
}

/// <summary>Refuses a <c>WebSockets.Enabled</c> route metadata value that is neither <c>true</c> nor <c>false</c>, which would silently mean false.</summary>
internal sealed class WebSocketRoutesConfigCheck : IConfigCheck
{
    public void Check(ConfigCandidate candidate, List<ConfigError> errors)
    {
        foreach (var route in candidate.Routes)
        {
            if (route.Metadata?.TryGetValue(WebSocketRoutes.MetadataKey, out var text) == true && WebSocketRoutes.Parse(text) is null)
            {
                errors.Add(candidate.File.ErrorAt($"{ConfigKeys.Route(route.RouteId)}:Metadata:{WebSocketRoutes.MetadataKey}",
                    $"'{text}' is not true or false"));
            }
        }
    }
}
