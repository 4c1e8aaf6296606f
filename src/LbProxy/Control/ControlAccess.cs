using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using LbProxy.Edge;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;

namespace LbProxy.Control;

/// <summary>
/// Who may use the token endpoints: with a token configured, a request bearing exactly that token; without
/// one, loopback clients only. Tokens are compared as SHA-256 digests in constant time, so neither the
/// content nor the length of the configured token shows in the time a wrong guess takes. The live page's
/// endpoints also take the page's cookie: an HMAC of a fixed label keyed by the token's digest, so the cookie is
/// not the token, and rotating the token voids it. The cookie never authorizes any other endpoint.
/// </summary>
internal sealed class ControlAccess
{
    private const string BearerScheme = "Bearer ";

    /// <summary>A longer header is refused before hashing; no real token comes near it.</summary>
    private const int MaxTokenChars = 1024;

    /// <summary>The live page's cookie, scoped to the page's path.</summary>
    public const string UiCookieName = "lbproxy_ui";

    private readonly byte[]? _tokenDigest;
    private readonly byte[]? _uiCookie;

    public ControlAccess(IOptions<ControlOptions> options)
    {
        var token = options.Value.Token;
        _tokenDigest = string.IsNullOrEmpty(token) ? null : SHA256.HashData(Encoding.UTF8.GetBytes(token));
        _uiCookie = _tokenDigest is null ? null : HMACSHA256.HashData(_tokenDigest, "lbproxy-ui-v1"u8);
        UiCookieValue = _uiCookie is null ? null : Base64Url.EncodeToString(_uiCookie);
    }

    /// <summary>The value of the live page's cookie; null when no token is configured (the loopback rule applies).</summary>
    public string? UiCookieValue { get; }

    /// <summary>The token rule, or the live page's cookie.</summary>
    public bool IsAllowedForUi(HttpContext context)
    {
        if (IsAllowed(context))
        {
            return true;
        }

        if (_uiCookie is null || context.Request.Cookies[UiCookieName] is not { Length: > 0 and <= 64 } cookie)
        {
            return false;
        }

        Span<byte> given = stackalloc byte[48];
        return Base64Url.TryDecodeFromChars(cookie, given, out var written)
            && CryptographicOperations.FixedTimeEquals(given[..written], _uiCookie);
    }

    /// <summary>Whether <paramref name="given"/> (from the page's <c>?token=</c>) is the configured token.</summary>
    public bool IsToken(ReadOnlySpan<char> given) => _tokenDigest is not null && Matches(given);

    public bool IsAllowed(HttpContext context)
    {
        if (_tokenDigest is null)
        {
            return ClientAddress.IsLoopback(context.Connection.RemoteIpAddress);
        }

        var header = context.Request.Headers[HeaderNames.Authorization];
        if (header.Count != 1 || header[0] is not { } value
            || !value.StartsWith(BearerScheme, StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        return Matches(value.AsSpan(BearerScheme.Length).Trim());
    }

    private bool Matches(ReadOnlySpan<char> given)
    {
        if (given.IsEmpty || given.Length > MaxTokenChars)
        {
            return false;
        }

        Span<byte> bytes = stackalloc byte[Encoding.UTF8.GetMaxByteCount(MaxTokenChars)];
        var length = Encoding.UTF8.GetBytes(given, bytes);
        Span<byte> digest = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(bytes[..length], digest);
        return CryptographicOperations.FixedTimeEquals(digest, _tokenDigest);
    }
}
