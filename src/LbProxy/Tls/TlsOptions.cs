using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace LbProxy.Tls;

/// <summary>How certificate files are watched. Read at start.</summary>
internal sealed class TlsOptions
{
    public const string SectionName = "LbProxy:Tls";

    /// <summary>
    /// How often certificate files are read and compared. A pair is checked once it reads the same twice in a row,
    /// so a half-written file or a key written before its certificate is never judged.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.050", "01:00:00")]
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Where the validated copies that Kestrel serves are kept (private to the process); a new temporary
    /// directory when empty.
    /// </summary>
    public string? StagingDirectory { get; set; }
}

[OptionsValidator]
internal sealed partial class TlsOptionsValidator : IValidateOptions<TlsOptions>;
