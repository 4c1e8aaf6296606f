using LbProxy.Configuration;

namespace LbProxy.Tls;

/// <summary>
/// What the ranges of <see cref="TlsOptions"/> cannot say: each redirecting endpoint exists and is plain HTTP, there
/// is an HTTPS endpoint to redirect to, and the HSTS fields agree (the preload list's rules for <c>Preload</c>).
/// </summary>
internal sealed class HttpsEdgeCheck : IConfigCheck
{
    public static readonly TimeSpan PreloadMinimum = TimeSpan.FromDays(365);
    public static readonly TimeSpan MaxAgeLimit = TimeSpan.FromDays(730);

    private const string RedirectKey = TlsOptions.SectionName + ":RedirectHttp:Endpoints";
    private const string HstsKey = TlsOptions.SectionName + ":Hsts";

    public void Check(ConfigCandidate candidate, List<ConfigError> errors)
    {
        var options = new TlsOptions();
        try
        {
            candidate.Effective.GetSection(TlsOptions.SectionName).Bind(options);
        }
        catch (InvalidOperationException)
        {
            return;   // reported by the options section's own check
        }

        var file = candidate.File;
        var endpoints = candidate.Effective.GetSection("Kestrel:Endpoints").GetChildren().ToDictionary(
            static e => e.Key, static e => e["Url"] ?? "", StringComparer.OrdinalIgnoreCase);
        foreach (var name in options.RedirectHttp.Endpoints)
        {
            if (!endpoints.TryGetValue(name, out var url))
            {
                errors.Add(file.ErrorAt(RedirectKey, $"endpoint '{name}' is not among Kestrel:Endpoints ({string.Join(", ", endpoints.Keys)})"));
            }
            else if (!url.StartsWith("http://", StringComparison.OrdinalIgnoreCase))
            {
                errors.Add(file.ErrorAt(RedirectKey, $"endpoint '{name}' is not plain HTTP ('{url}'): only plain-HTTP endpoints redirect"));
            }
        }

        if (options.RedirectHttp.Endpoints.Count > 0
            && !endpoints.Values.Any(static url => url.StartsWith("https://", StringComparison.OrdinalIgnoreCase)))
        {
            errors.Add(file.ErrorAt(RedirectKey, "redirects to HTTPS, but no endpoint of Kestrel:Endpoints is HTTPS"));
        }

        if (options.RedirectHttp.HttpsPort is < 1 or > 65535)
        {
            errors.Add(file.ErrorAt(TlsOptions.SectionName + ":RedirectHttp:HttpsPort", $"{options.RedirectHttp.HttpsPort} is not a port (1 – 65535)"));
        }

        var hsts = options.Hsts;
        if (hsts.MaxAge is { } age && (age < TimeSpan.Zero || age > MaxAgeLimit))
        {
            errors.Add(file.ErrorAt(HstsKey + ":MaxAge", $"{age} is outside 0 – 730 days (the preload list asks for 1 year, 2 are usual)"));
        }

        if (hsts.MaxAge is null && (hsts.IncludeSubDomains || hsts.Preload))
        {
            errors.Add(file.ErrorAt(HstsKey, "IncludeSubDomains and Preload need a MaxAge: HSTS is off without one"));
        }
        else if (hsts.Preload && (!hsts.IncludeSubDomains || hsts.MaxAge < PreloadMinimum))
        {
            errors.Add(file.ErrorAt(HstsKey + ":Preload",
                $"the preload list takes a host only with IncludeSubDomains and a MaxAge of at least 365 days (here: IncludeSubDomains {hsts.IncludeSubDomains}, MaxAge {hsts.MaxAge})"));
        }

        if (hsts.MaxAge is { } maxAge && maxAge.Ticks % TimeSpan.TicksPerSecond != 0)
        {
            errors.Add(file.ErrorAt(HstsKey + ":MaxAge", $"{maxAge} is not a whole number of seconds, as max-age is"));
        }
    }
}
