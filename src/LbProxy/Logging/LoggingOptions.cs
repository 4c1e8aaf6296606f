using System.ComponentModel.DataAnnotations;
using LbProxy.Configuration;
using Microsoft.Extensions.Options;
using Serilog.Events;

namespace LbProxy.Logging;

/// <summary>Application log settings (the access log has its own).</summary>
internal sealed class LoggingOptions
{
    public const string SectionName = "LbProxy:Logging";

    /// <summary>Minimum level of LbProxy's own log lines.</summary>
    public LogEventLevel Level { get; set; } = LogEventLevel.Information;

    /// <summary>
    /// How many times one message (its source and template) is written per <see cref="RepeatWindow"/> at
    /// Information and above; the rest is counted in one line. 0 writes every one. Read at start.
    /// </summary>
    [Range(0, 100_000)]
    public int RepeatLimit { get; set; } = 10;

    [TimeSpanRange("00:00:01", "01:00:00")]
    public TimeSpan RepeatWindow { get; set; } = TimeSpan.FromSeconds(10);
}

[OptionsValidator]
internal sealed partial class LoggingOptionsValidator : IValidateOptions<LoggingOptions>;
