using System.Security.Cryptography;
using System.Text;
using LbProxy.Edge;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;

namespace LbProxy.Control;

/// <summary>
/// Who may use the token endpoints: with a token configured, a request bearing exactly that token; without
/// one, loopback clients only. Tokens are compared as SHA-256 digests in constant time, so neither the
/// content nor the length of the configured token shows in the time a wrong guess takes.
/// </summary>
internal sealed class ControlAccess
{
    private const string BearerScheme = "Bearer ";

    /// <summary>A longer header is refused before hashing; no real token comes near it.</summary>
    private const int MaxTokenChars = 1024;

    private readonly byte[]? _tokenDigest;

    public ControlAccess(IOptions<ControlOptions> options)
    {
        var token = options.Value.Token;
        _tokenDigest = string.IsNullOrEmpty(token) ? null : SHA256.HashData(Encoding.UTF8.GetBytes(token));
    }

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

        var given = value.AsSpan(BearerScheme.Length).Trim();
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
