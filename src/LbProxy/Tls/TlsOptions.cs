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

[OptionsValidator]
internal sealed partial class TlsOptionsValidator : IValidateOptions<TlsOptions>;
