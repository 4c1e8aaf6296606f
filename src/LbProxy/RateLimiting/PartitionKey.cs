using System.Net;
using System.Security.Cryptography;
using System.Text;
using LbProxy.Edge;

namespace LbProxy.RateLimiting;

/// <summary>A request's partition key under a policy's <c>PartitionBy</c>, written into a buffer of the caller's.</summary>
internal static class PartitionKey
{
    /// <summary>Longer header values are keyed by a hash of theirs: a partition's key is never larger than this.</summary>
    public const int MaxLength = 128;

    /// <summary>A buffer that holds any key: an address, a header value up to <see cref="MaxLength"/> or its hash.</summary>
    public const int BufferLength = MaxLength;

    /// <summary>
    /// The key of <paramref name="context"/>: the client address (after trusted proxies), a header's value (all
    /// requests without it share the empty key), the route's id, or the empty key.
    /// </summary>
    public static ReadOnlySpan<char> Of(HttpContext context, string routeId, PartitionBy by, TrustedProxies trusted, Span<char> buffer)
    {
        switch (by.Source)
        {
            case PartitionSource.ClientIp:
                var address = ClientIp(context, trusted);
                return address is not null && ClientAddress.TryFormat(address, buffer, out var written) ? buffer[..written] : "";
            case PartitionSource.Header:
                var values = context.Request.Headers[by.HeaderName!];
                var value = values.Count switch
                {
                    0 => "",
                    1 => values[0] ?? "",
                    _ => values.ToString(),
                };
                return value.Length <= MaxLength ? value : Hashed(value, buffer);
            case PartitionSource.Route:
                return routeId;
            default:
                return "";
        }
    }

    /// <summary>
    /// The client's address: the connection's, or, when the connection comes from a trusted proxy, the nearest
    /// address in <c>X-Forwarded-For</c> (read right to left) that is not a trusted proxy. Every hop trusted: the
    /// farthest. An entry that is not an address ends the walk at the last trusted hop, the proxy that wrote it:
    /// a client cannot pick its partition by sending garbage.
    /// </summary>
    public static IPAddress? ClientIp(HttpContext context, TrustedProxies trusted)
    {
        var client = context.Connection.RemoteIpAddress;
        if (client is null || !trusted.Contains(client))
        {
            return client;
        }

        var forwarded = context.Request.Headers[WellKnownHeaders.ForwardedFor];
        for (var i = forwarded.Count - 1; i >= 0; i--)
        {
            ReadOnlySpan<char> rest = forwarded[i];
            while (!rest.IsEmpty)
            {
                var comma = rest.LastIndexOf(',');
                var entry = rest[(comma + 1)..].Trim();
                rest = comma < 0 ? default : rest[..comma];
                if (entry.IsEmpty)
                {
                    continue;
                }

                if (!IPAddress.TryParse(entry, out var hop))
                {
                    return client;
                }

                if (!trusted.Contains(hop))
                {
                    return hop;
                }

                client = hop;
            }
        }

        return client;
    }

    private static ReadOnlySpan<char> Hashed(string value, Span<char> buffer)
    {
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(Encoding.UTF8.GetBytes(value), hash);
        buffer[0] = '#';
        Convert.TryToHexString(hash[..24], buffer[1..], out var written);
        return buffer[..(1 + written)];
    }
}
