using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using LbProxy.Edge;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;

namespace LbProxy.Control;

/// <summary>
/// Who may use the token endpoints: with a token configured, a request bearing exactly that token; without
/// one, requests whose original client is loopback and that came through no proxy (see <see cref="IsLoopbackClient"/>).
/// Tokens are compared as SHA-256 digests in constant time, so neither the content nor the length of the configured
/// token shows in the time a wrong guess takes. The live page's endpoints also take the page's cookie: an HMAC of a
/// fixed label keyed by the token's digest, so the cookie is not the token, and rotating the token voids it. The cookie
/// never authorizes any other endpoint.
/// </summary>
/// <remarks>
/// The token follows the config file like every other option: a reload that changes it swaps the digest and the
/// cookie as one object, so the old token and its cookie are refused from the first request after the reload (a
/// leaked token is revoked without a restart).
/// </remarks>
internal sealed class ControlAccess
{
    private const string BearerScheme = "Bearer ";

    /// <summary>A longer header is refused before hashing; no real token comes near it.</summary>
    private const int MaxTokenChars = 1024;

    /// <summary>The live page's cookie, scoped to the page's path.</summary>
    public const string UiCookieName = "lbproxy_ui";

    private volatile Keys _keys;

    public ControlAccess(IOptionsMonitor<ControlOptions> options)
    {
        _keys = Keys.From(options.CurrentValue.Token);
        options.OnChange(changed => _keys = Keys.From(changed.Token));
    }

    /// <summary>The value of the live page's cookie; null when no token is configured (the loopback rule applies).</summary>
    public string? UiCookieValue => _keys.UiCookieValue;

    /// <summary>The token rule, or the live page's cookie.</summary>
    public bool IsAllowedForUi(HttpContext context)
    {
        var keys = _keys;
        if (IsAllowed(context, keys))
        {
            return true;
        }

        if (keys.UiCookie is null || context.Request.Cookies[UiCookieName] is not { Length: > 0 and <= 64 } cookie)
        {
            return false;
        }

        Span<byte> given = stackalloc byte[48];
        return Base64Url.TryDecodeFromChars(cookie, given, out var written)
            && CryptographicOperations.FixedTimeEquals(given[..written], keys.UiCookie);
    }

    /// <summary>Whether <paramref name="given"/> (from the page's <c>?token=</c>) is the configured token.</summary>
    public bool IsToken(ReadOnlySpan<char> given) => _keys.TokenDigest is { } digest && Matches(given, digest);

    public bool IsAllowed(HttpContext context) => IsAllowed(context, _keys);

    /// <summary>
    /// The rule without a token: the connection comes from loopback and the request carries no forwarding header
    /// (<c>X-Forwarded-For</c>, <c>Forwarded</c>, <c>X-Real-IP</c>). A front proxy on the same host connects from
    /// loopback for every client it serves; its forwarding headers are what tells its requests apart. Whoever sent
    /// them, trusted proxy or not, the request is refused: from a trusted proxy the original client is elsewhere, and
    /// from an untrusted one the header is either a proxy's (the same case) or a forgery by a local client, which loses
    /// nothing by being refused. A proxy that adds no such header (a TCP proxy, a sidecar) cannot be told apart from
    /// a local client: configure a token there (docs/configuration.md#endpoints).
    /// </summary>
    public static bool IsLoopbackClient(HttpContext context)
    {
        if (!ClientAddress.IsLoopback(context.Connection.RemoteIpAddress))
        {
            return false;
        }

        var headers = context.Request.Headers;
        return !headers.ContainsKey(WellKnownHeaders.ForwardedFor)
            && !headers.ContainsKey(WellKnownHeaders.Forwarded)
            && !headers.ContainsKey(WellKnownHeaders.RealIp);
    }

    private static bool IsAllowed(HttpContext context, Keys keys)
    {
        if (keys.TokenDigest is not { } tokenDigest)
        {
            return IsLoopbackClient(context);
        }

        var header = context.Request.Headers[HeaderNames.Authorization];
        if (header.Count != 1 || header[0] is not { } value
            || !value.StartsWith(BearerScheme, StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        return Matches(value.AsSpan(BearerScheme.Length).Trim(), tokenDigest);
    }

    private static bool Matches(ReadOnlySpan<char> given, byte[] tokenDigest)
    {
        if (given.IsEmpty || given.Length > MaxTokenChars)
        {
            return false;
        }

        Span<byte> bytes = stackalloc byte[Encoding.UTF8.GetMaxByteCount(MaxTokenChars)];
        var length = Encoding.UTF8.GetBytes(given, bytes);
        Span<byte> digest = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(bytes[..length], digest);
        return CryptographicOperations.FixedTimeEquals(digest, tokenDigest);
    }

    /// <summary>The token's digest and the page cookie derived from it, swapped together.</summary>
    private sealed class Keys
    {
        private Keys(byte[]? tokenDigest)
        {
            TokenDigest = tokenDigest;
            UiCookie = tokenDigest is null ? null : HMACSHA256.HashData(tokenDigest, "lbproxy-ui-v1"u8);
            UiCookieValue = UiCookie is null ? null : Base64Url.EncodeToString(UiCookie);
        }

        public byte[]? TokenDigest { get; }

        public byte[]? UiCookie { get; }

        public string? UiCookieValue { get; }

        public static Keys From(string? token) =>
            new(string.IsNullOrEmpty(token) ? null : SHA256.HashData(Encoding.UTF8.GetBytes(token)));
    }
}
