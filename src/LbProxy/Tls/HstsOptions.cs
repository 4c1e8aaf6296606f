namespace LbProxy.Tls;

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
