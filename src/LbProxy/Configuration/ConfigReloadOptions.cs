using Microsoft.Extensions.Options;

namespace LbProxy.Configuration;

/// <summary>How edits of the config file are noticed. Read at start; AllowNoRoutes is read from each candidate.</summary>
internal sealed class ConfigReloadOptions
{
    public const string SectionName = "LbProxy:Config";

    /// <summary>Apply edits of the config file live. When false, only SIGHUP re-reads it.</summary>
    public bool Watch { get; set; } = true;

    /// <summary>Quiet time after the last change event before the file is read: editors and kubelet write in steps.</summary>
    [TimeSpanRange("00:00:00.010", "00:00:10")]
    public TimeSpan SettleDelay { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>How often the file is read as a fallback for missed events (network file systems, unusual mounts).</summary>
    [TimeSpanRange("00:00:00.100", "01:00:00")]
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>A config without routes answers every request with 404; it is refused unless this says it is meant.</summary>
    public bool AllowNoRoutes { get; set; }
}

[OptionsValidator]
internal sealed partial class ConfigReloadOptionsValidator : IValidateOptions<ConfigReloadOptions>;
