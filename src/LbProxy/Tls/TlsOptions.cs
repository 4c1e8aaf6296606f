using LbProxy.Configuration;
using Microsoft.Extensions.Options;

namespace LbProxy.Tls;

/// <summary>
/// How certificate files are watched (read at start), and what plain-HTTP endpoints and HTTPS responses do (live).
/// </summary>
internal sealed class TlsOptions
{
    public const string SectionName = "LbProxy:Tls";

    /// <summary>
    /// How often certificate files are read and compared. A pair is checked once it reads the same twice in a row,
    /// so a half-written file or a key written before its certificate is never judged.
    /// </summary>
    [TimeSpanRange("00:00:00.050", "01:00:00")]
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Where the validated copies that Kestrel serves are kept (private to the process); a new temporary
    /// directory when empty.
    /// </summary>
    public string? StagingDirectory { get; set; }

    /// <summary>Plain-HTTP endpoints whose requests are redirected to HTTPS (checked by <see cref="HttpsEdgeCheck"/>).</summary>
    public RedirectHttpOptions RedirectHttp { get; set; } = new();

    /// <summary>The <c>Strict-Transport-Security</c> header of HTTPS responses (checked by <see cref="HttpsEdgeCheck"/>).</summary>
    public HstsOptions Hsts { get; set; } = new();
}

/// <summary>
/// Plain-HTTP endpoints that answer every request with a redirect to the same host, path and query over HTTPS: 301 for
/// GET and HEAD, 308 for other methods (which keeps the method and body). Nothing on them is forwarded; the control
/// plane and <c>/metrics</c> still answer there, so probes and scrapers on the plain port keep working.
/// </summary>
internal sealed class RedirectHttpOptions
{
    /// <summary>Names of plain-HTTP endpoints under <c>Kestrel:Endpoints</c>; none by default.</summary>
    public List<string> Endpoints { get; set; } = [];

    /// <summary>The port clients reach HTTPS on, in the redirect's <c>Location</c>; 443 is left out of it.</summary>
    public int HttpsPort { get; set; } = 443;
}

/// <summary>
/// <c>Strict-Transport-Security</c> on every HTTPS response (the origin's own value replaced), never on plain HTTP;
/// off unless <see cref="MaxAge"/> is set.
/// </summary>
internal sealed class HstsOptions
{
    /// <summary>How long browsers keep to HTTPS for the host, whole seconds up to 2 years; 0 tells them to forget it.</summary>
    public TimeSpan? MaxAge { get; set; }

    public bool IncludeSubDomains { get; set; }

    /// <summary>Asks to be on the browsers' preload list, whose rules need a year's max-age and IncludeSubDomains.</summary>
    public bool Preload { get; set; }

    /// <summary>The header's value, or null when HSTS is off.</summary>
    public string? HeaderValue() => MaxAge is not { } maxAge
        ? null
        : $"max-age={(long)maxAge.TotalSeconds}{(IncludeSubDomains ? "; includeSubDomains" : "")}{(Preload ? "; preload" : "")}";
}

[OptionsValidator]
internal sealed partial class TlsOptionsValidator : IValidateOptions<TlsOptions>;
