using System.ComponentModel.DataAnnotations;
using LbProxy.Configuration;
using Microsoft.Extensions.Options;

namespace LbProxy.AccessLog;

/// <summary>
/// The access log: one line per request on stdout. The filter rules are applied in the order of the
/// properties below, and every line they skip is counted by rule.
/// </summary>
internal sealed class AccessLogOptions : IValidatableObject
{
    public const string SectionName = "LbProxy:AccessLog";

    /// <summary>The line the story's operators read, nginx-like.</summary>
    public const string DefaultTemplate = "{ip} - [{time}] {method} {url} {status} {referer} {ua}";

    /// <summary>When false, no line is written (each request is counted as skipped by the "disabled" rule).</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>
    /// A file for the lines instead of stdout, opened for append (<c>O_APPEND</c>, as nginx does, so that
    /// <c>logrotate copytruncate</c> and other writers are safe) and created rw-r----- when missing. Read once at start.
    /// </summary>
    public string? Path { get; set; }

    /// <summary>The line, with placeholders in braces; see <see cref="AccessLogTemplate"/> for the names.</summary>
    [Required]
    public string Template { get; set; } = DefaultTemplate;

    /// <summary>The time in UTC rather than the local time zone.</summary>
    public bool Utc { get; set; }

    /// <summary>Lines waiting for stdout; once full, new lines are dropped and counted, never waited for.</summary>
    [Range(16, 1_000_000)]
    public int BufferSize { get; set; } = 10_000;

    /// <summary>Skip requests to the control endpoints (the control prefix).</summary>
    public bool SkipControlPaths { get; set; } = true;

    /// <summary>Skip scrapes of <c>/metrics</c>.</summary>
    public bool SkipMetrics { get; set; } = true;

    /// <summary>
    /// More path prefixes to skip, on segment boundaries and ignoring case: <c>/health</c> skips
    /// <c>/health/live</c>, never <c>/healthy.jpg</c>.
    /// </summary>
    public string[] SkipPaths { get; set; } = [];

    /// <summary>Status classes to skip, such as <c>3xx</c>.</summary>
    public string[] SkipStatusClasses { get; set; } = [];

    /// <summary>Skip requests answered faster than this (zero: none); to log only slow requests.</summary>
    [TimeSpanRange("00:00:00", "01:00:00")]
    public TimeSpan MinDuration { get; set; } = TimeSpan.Zero;

    /// <summary>Percentage of successful requests (status below 400) that are logged; errors always are.</summary>
    [Range(0.0, 100.0)]
    public double SuccessSamplePercent { get; set; } = 100;

    /// <summary>"3xx" (any case) is 3; anything else is null.</summary>
    public static int? ParseStatusClass(string? text) =>
        text is { Length: 3 } && text[0] is >= '1' and <= '5' && text.AsSpan(1).Equals("xx", StringComparison.OrdinalIgnoreCase)
            ? text[0] - '0'
            : null;

    /// <summary>What the attributes cannot say: the template's placeholders, the status classes and the path prefixes.</summary>
    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (Template is not null && !AccessLogTemplate.TryParse(Template, out _, out var error))
        {
            yield return new ValidationResult(error, [nameof(Template)]);
        }

        foreach (var statusClass in SkipStatusClasses ?? [])
        {
            if (ParseStatusClass(statusClass) is null)
            {
                yield return new ValidationResult($"'{statusClass}' is not a status class such as 3xx (1xx to 5xx)", [nameof(SkipStatusClasses)]);
            }
        }

        if (Path is { Length: > 0 } path && System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path)) is { } directory
            && !Directory.Exists(directory))
        {
            yield return new ValidationResult($"the directory of '{path}' does not exist", [nameof(Path)]);
        }

        foreach (var prefix in SkipPaths ?? [])
        {
            if (string.IsNullOrEmpty(prefix) || prefix[0] != '/')
            {
                yield return new ValidationResult($"'{prefix}' must be a path starting with /", [nameof(SkipPaths)]);
            }
        }
    }
}

[OptionsValidator]
internal sealed partial class AccessLogOptionsValidator : IValidateOptions<AccessLogOptions>;
