using System.Globalization;
using Yarp.ReverseProxy.Configuration;

namespace LbProxy.Configuration;

/// <summary>
/// The typed values of the <c>ReverseProxy</c> section (times, numbers, switches, modes), checked before YARP parses
/// it, each at its own key. YARP's parser throws at the first value it cannot convert, which names neither the key
/// nor the route or cluster and ends the parse: every other error of the file stayed hidden. With the bad values
/// found here, the rest is parsed and validated without them, and the report lists them all.
/// </summary>
internal static class YarpValueCheck
{
    private enum Kind
    {
        TimeSpan,
        Int32,
        Int64,
        Boolean,
        Version,
        Uri,
        HeaderMatchMode,
        QueryParameterMatchMode,
        SameSiteMode,
        CookieSecurePolicy,
        HttpVersionPolicy,
    }

    /// <summary>Every value YARP would fail to convert, as errors at their keys; their keys (relative to the section) in <paramref name="badKeys"/>.</summary>
    public static List<ConfigError> Check(LbProxyConfigFile file, IConfigurationSection reverseProxy, out HashSet<string> badKeys)
    {
        var errors = new List<ConfigError>();
        var bad = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        badKeys = bad;
        foreach (var route in reverseProxy.GetSection("Routes").GetChildren())
        {
            Value(route, "Order", Kind.Int32);
            Value(route, "MaxRequestBodySize", Kind.Int64);
            Value(route, "Timeout", Kind.TimeSpan);
            foreach (var header in route.GetSection("Match:Headers").GetChildren())
            {
                Value(header, "Mode", Kind.HeaderMatchMode);
                Value(header, "IsCaseSensitive", Kind.Boolean);
            }

            foreach (var parameter in route.GetSection("Match:QueryParameters").GetChildren())
            {
                Value(parameter, "Mode", Kind.QueryParameterMatchMode);
                Value(parameter, "IsCaseSensitive", Kind.Boolean);
            }
        }

        foreach (var cluster in reverseProxy.GetSection("Clusters").GetChildren())
        {
            var affinity = cluster.GetSection("SessionAffinity");
            Value(affinity, "Enabled", Kind.Boolean);
            var cookie = affinity.GetSection("Cookie");
            Value(cookie, "SameSite", Kind.SameSiteMode);
            Value(cookie, "HttpOnly", Kind.Boolean);
            Value(cookie, "MaxAge", Kind.TimeSpan);
            Value(cookie, "IsEssential", Kind.Boolean);
            Value(cookie, "SecurePolicy", Kind.CookieSecurePolicy);
            Value(cookie, "Expiration", Kind.TimeSpan);
            var passive = cluster.GetSection("HealthCheck:Passive");
            Value(passive, "Enabled", Kind.Boolean);
            Value(passive, "ReactivationPeriod", Kind.TimeSpan);
            var active = cluster.GetSection("HealthCheck:Active");
            Value(active, "Enabled", Kind.Boolean);
            Value(active, "Interval", Kind.TimeSpan);
            Value(active, "Timeout", Kind.TimeSpan);
            var client = cluster.GetSection("HttpClient");
            Value(client, "DangerousAcceptAnyServerCertificate", Kind.Boolean);
            Value(client, "MaxConnectionsPerServer", Kind.Int32);
            Value(client, "EnableMultipleHttp2Connections", Kind.Boolean);
            var proxy = client.GetSection("WebProxy");
            Value(proxy, "Address", Kind.Uri);
            Value(proxy, "BypassOnLocal", Kind.Boolean);
            Value(proxy, "UseDefaultCredentials", Kind.Boolean);
            var request = cluster.GetSection("HttpRequest");
            Value(request, "ActivityTimeout", Kind.TimeSpan);
            Value(request, "Version", Kind.Version);
            Value(request, "VersionPolicy", Kind.HttpVersionPolicy);
            Value(request, "AllowResponseBuffering", Kind.Boolean);
        }

        return errors;

        void Value(IConfigurationSection parent, string name, Kind kind)
        {
            var section = parent.GetSection(name);
            if (section.Value is not { } value || Parses(value, kind))
            {
                return;
            }

            errors.Add(file.ErrorAt(section.Path, Describe(value, kind)));
            bad.Add(section.Path[(reverseProxy.Path.Length + 1)..]);
        }
    }

    /// <summary>The section without <paramref name="badKeys"/>, for YARP to parse the rest.</summary>
    public static IConfigurationSection Without(IConfigurationSection reverseProxy, HashSet<string> badKeys)
    {
        var prefix = reverseProxy.Path + ":";
        return new ConfigurationBuilder()
            .AddInMemoryCollection(reverseProxy.AsEnumerable()
                .Where(kv => kv.Value is not null && !(kv.Key.StartsWith(prefix, StringComparison.OrdinalIgnoreCase) && badKeys.Contains(kv.Key[prefix.Length..]))))
            .Build()
            .GetSection(reverseProxy.Path);
    }

    private static bool Parses(string value, Kind kind) => kind switch
    {
        // As YARP reads them (ConfigurationReadingExtensions): TimeSpan in the constant ("c") format, invariant numbers.
        Kind.TimeSpan => TimeSpan.TryParseExact(value, "c", CultureInfo.InvariantCulture, out _),
        Kind.Int32 => int.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out _),
        Kind.Int64 => long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out _),
        Kind.Boolean => bool.TryParse(value, out _),
        Kind.Version => value.Length == 0 || Version.TryParse(value + (value.Contains('.', StringComparison.Ordinal) ? "" : ".0"), out _),
        Kind.Uri => Uri.TryCreate(value, UriKind.Absolute, out _),
        Kind.HeaderMatchMode => Enum.TryParse<HeaderMatchMode>(value, ignoreCase: true, out _),
        Kind.QueryParameterMatchMode => Enum.TryParse<QueryParameterMatchMode>(value, ignoreCase: true, out _),
        Kind.SameSiteMode => Enum.TryParse<SameSiteMode>(value, ignoreCase: true, out _),
        Kind.CookieSecurePolicy => Enum.TryParse<CookieSecurePolicy>(value, ignoreCase: true, out _),
        Kind.HttpVersionPolicy => Enum.TryParse<HttpVersionPolicy>(value, ignoreCase: true, out _),
        _ => true,
    };

    private static string Describe(string value, Kind kind) => kind switch
    {
        Kind.TimeSpan => $"'{value}' is not recognized as a valid TimeSpan; write [d.]hh:mm:ss[.fffffff], such as 00:00:30",
        Kind.Int32 or Kind.Int64 => $"'{value}' is not a whole number",
        Kind.Boolean => $"'{value}' is neither true nor false",
        Kind.Version => $"'{value}' is not an HTTP version such as 1.1 or 2",
        Kind.Uri => $"'{value}' is not an absolute URI",
        _ => $"'{value}' is not one of {string.Join(", ", Names(kind))}",
    };

    private static string[] Names(Kind kind) => kind switch
    {
        Kind.HeaderMatchMode => Enum.GetNames<HeaderMatchMode>(),
        Kind.QueryParameterMatchMode => Enum.GetNames<QueryParameterMatchMode>(),
        Kind.SameSiteMode => Enum.GetNames<SameSiteMode>(),
        Kind.CookieSecurePolicy => Enum.GetNames<CookieSecurePolicy>(),
        Kind.HttpVersionPolicy => Enum.GetNames<HttpVersionPolicy>(),
        _ => [],
    };
}
