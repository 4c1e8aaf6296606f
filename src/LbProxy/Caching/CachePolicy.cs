using System.Globalization;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;

namespace LbProxy.Caching;

/// <summary>How long a stored response is fresh, how old it was when it arrived, and whether it may ever be served stale.</summary>
internal readonly record struct Freshness(TimeSpan Lifetime, TimeSpan InitialAge, bool MustRevalidate);

/// <summary>
/// What a shared cache may store and answer (RFC 9111), as pure functions of headers: the request side (a request
/// with credentials is never answered from, nor stored into, the hot set) and the response side (what may be
/// stored, and for how long).
/// </summary>
internal static class CachePolicy
{
    /// <summary>Cache-Status <c>fwd</c> reasons (RFC 9211) of a request the hot set does not take part in.</summary>
    public const string BypassMethod = "method";
    public const string BypassRequest = "request";

    /// <summary>
    /// Why a request bypasses the hot set, or null when it may be answered from it: a method other than GET and
    /// HEAD, <c>Authorization</c> (RFC 9111 §3.5: its response is the client's), or a <c>Cookie</c> unless the
    /// route allows cookies.
    /// </summary>
    public static string? BypassReason(string method, IHeaderDictionary headers, bool allowCookies)
    {
        if (!HttpMethods.IsGet(method) && !HttpMethods.IsHead(method))
        {
            return BypassMethod;
        }

        if (headers.Authorization.Count > 0 || (!allowCookies && headers.Cookie.Count > 0))
        {
            return BypassRequest;
        }

        return null;
    }

    /// <summary>
    /// Whether a response may be stored, and its freshness: only a 200 without <c>Set-Cookie</c>, without
    /// <c>no-store</c>, <c>private</c> or <c>no-cache</c>, whose <c>Vary</c> names nothing but <c>Accept</c> (the key
    /// already holds the format class, the only thing Accept selects here); fresh for <c>s-maxage</c>, else
    /// <c>max-age</c>, else <c>Expires</c> minus <c>Date</c>, else <paramref name="defaultTtl"/>.
    /// </summary>
    public static bool TryGetFreshness(int statusCode, IHeaderDictionary headers, TimeSpan defaultTtl, DateTimeOffset now, out Freshness freshness)
    {
        freshness = default;
        if (statusCode != StatusCodes.Status200OK || headers.SetCookie.Count > 0 || !VaryIsAcceptOnly(headers.Vary))
        {
            return false;
        }

        TimeSpan? sMaxAge = null, maxAge = null;
        var mustRevalidate = false;
        foreach (var (name, value) in Directives(headers.CacheControl))
        {
            if (name.Equals("no-store", StringComparison.OrdinalIgnoreCase)
                || name.Equals("private", StringComparison.OrdinalIgnoreCase)
                || name.Equals("no-cache", StringComparison.OrdinalIgnoreCase))
            {
                return false;
            }

            if (name.Equals("s-maxage", StringComparison.OrdinalIgnoreCase))
            {
                sMaxAge = Seconds(value);
            }
            else if (name.Equals("max-age", StringComparison.OrdinalIgnoreCase))
            {
                maxAge = Seconds(value);
            }
            else if (name.Equals("must-revalidate", StringComparison.OrdinalIgnoreCase) || name.Equals("proxy-revalidate", StringComparison.OrdinalIgnoreCase))
            {
                mustRevalidate = true;
            }
        }

        if (headers.Pragma.Count > 0 && headers.CacheControl.Count == 0 && Contains(headers.Pragma, "no-cache"))
        {
            return false;
        }

        var lifetime = sMaxAge ?? maxAge ?? FromExpires(headers, now) ?? defaultTtl;
        if (lifetime <= TimeSpan.Zero)
        {
            return false;
        }

        var initialAge = Seconds(headers.Age.ToString()) ?? TimeSpan.Zero;
        freshness = new Freshness(lifetime, initialAge, mustRevalidate);
        return true;
    }

    /// <summary><c>Vary</c> absent, or naming only <c>Accept</c> (in any spelling, any number of times).</summary>
    public static bool VaryIsAcceptOnly(StringValues vary)
    {
        foreach (var value in vary)
        {
            foreach (var part in (value ?? "").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            {
                if (!part.Equals("Accept", StringComparison.OrdinalIgnoreCase))
                {
                    return false;
                }
            }
        }

        return true;
    }

    /// <summary>The directives of a <c>Cache-Control</c> header, name and value (quotes removed), in order.</summary>
    public static IEnumerable<(string Name, string? Value)> Directives(StringValues cacheControl)
    {
        foreach (var header in cacheControl)
        {
            foreach (var part in (header ?? "").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            {
                var equals = part.IndexOf('=', StringComparison.Ordinal);
                yield return equals < 0 ? (part, null) : (part[..equals].Trim(), part[(equals + 1)..].Trim().Trim('"'));
            }
        }
    }

    private static bool Contains(StringValues values, string token)
    {
        foreach (var value in values)
        {
            if (value is not null && value.Contains(token, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>A delta-seconds value (RFC 9111 §1.2.2); an unreadable one is null, as if absent.</summary>
    private static TimeSpan? Seconds(string? value) =>
        long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds)
            ? TimeSpan.FromSeconds(Math.Min(seconds, int.MaxValue))
            : null;

    /// <summary><c>Expires</c> minus <c>Date</c> (or now); an invalid <c>Expires</c> means already expired (RFC 9111 §5.3).</summary>
    private static TimeSpan? FromExpires(IHeaderDictionary headers, DateTimeOffset now)
    {
        if (headers.Expires.Count == 0)
        {
            return null;
        }

        if (!HeaderUtilities.TryParseDate(headers.Expires.ToString(), out var expires))
        {
            return TimeSpan.Zero;
        }

        var date = HeaderUtilities.TryParseDate(headers.Date.ToString(), out var sent) ? sent : now;
        return expires - date;
    }
}
