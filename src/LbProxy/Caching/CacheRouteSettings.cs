using System.Runtime.CompilerServices;
using Yarp.ReverseProxy.Model;

namespace LbProxy.Caching;

/// <summary>
/// A route's caching, from its metadata: <c>Cache.Enabled</c> (<c>"true"</c> turns it on; off when absent) and
/// <c>Cache.AllowCookies</c> (<c>"true"</c>: a request's <c>Cookie</c> does not keep it from the hot set, for
/// sites whose analytics cookies reach image URLs; a response's <c>Set-Cookie</c> still is never stored). Parsed
/// once per route model, so a route without caching costs one table lookup per request.
/// </summary>
internal sealed record CacheRouteSettings(bool Enabled, bool AllowCookies)
{
    public const string EnabledKey = "Cache.Enabled";
    public const string AllowCookiesKey = "Cache.AllowCookies";

    public static readonly CacheRouteSettings Off = new(false, false);

    private static readonly ConditionalWeakTable<RouteModel, CacheRouteSettings> Known = new();

    public static CacheRouteSettings Of(RouteModel route)
    {
        if (Known.TryGetValue(route, out var known))
        {
            return known;
        }

        var settings = Parse(route.Config.Metadata).Settings ?? Off;
        Known.AddOrUpdate(route, settings);
        return settings;
    }

    /// <summary>The settings the metadata means, or the first problem with it.</summary>
    public static (CacheRouteSettings? Settings, string? Error) Parse(IReadOnlyDictionary<string, string>? metadata)
    {
        if (metadata is null)
        {
            return (Off, null);
        }

        var enabled = false;
        if (metadata.TryGetValue(EnabledKey, out var enabledText) && !bool.TryParse(enabledText, out enabled))
        {
            return (null, $"{EnabledKey} must be true or false, not '{enabledText}'");
        }

        var allowCookies = false;
        if (metadata.TryGetValue(AllowCookiesKey, out var cookiesText) && !bool.TryParse(cookiesText, out allowCookies))
        {
            return (null, $"{AllowCookiesKey} must be true or false, not '{cookiesText}'");
        }

        return (enabled ? new CacheRouteSettings(true, allowCookies) : Off, null);
    }
}
