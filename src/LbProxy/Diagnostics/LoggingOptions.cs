using Serilog.Events;

namespace LbProxy.Diagnostics;

/// <summary>Application log settings (the access log has its own).</summary>
internal sealed class LoggingOptions
{
    public const string SectionName = "LbProxy:Logging";

    /// <summary>Minimum level of LbProxy's own log lines.</summary>
    public LogEventLevel Level { get; set; } = LogEventLevel.Information;
}
