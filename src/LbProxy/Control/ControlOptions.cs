using System.ComponentModel.DataAnnotations;
using LbProxy.Configuration;
using Microsoft.Extensions.Options;

namespace LbProxy.Control;

/// <summary>Where LbProxy answers for itself, who may ask, and how it stops.</summary>
internal sealed class ControlOptions
{
    public const string SectionName = "LbProxy:Control";

    /// <summary>Takes precedence over <see cref="Token"/>, so that a secret can come from the environment, not the file.</summary>
    public const string TokenEnvironmentVariable = "LBPROXY_CONTROL_TOKEN";

    /// <summary>Path prefix of the control endpoints; never forwarded to a backend. Read once at start.</summary>
    [Required]
    [RegularExpression("^/[A-Za-z0-9_.~-]+$", ErrorMessage = "Prefix must be one path segment such as /_lb")]
    public string Prefix { get; set; } = "/_lb";

    /// <summary>
    /// Bearer token of the token endpoints (status, loglevel, runtime). Without one, they answer loopback
    /// clients only.
    /// </summary>
    public string? Token { get; set; }

    /// <summary>
    /// When true, <c>/metrics</c> asks for the same token as the token endpoints (loopback only without one).
    /// Off by default: Prometheus scrapes without credentials unless told otherwise. Read once at start.
    /// </summary>
    public bool MetricsRequireToken { get; set; }

    /// <summary>
    /// After SIGTERM, how long readiness answers 503 while requests are still served, so that an outer balancer
    /// deregisters the proxy before it stops accepting connections.
    /// </summary>
    [TimeSpanRange("00:00:00", "00:05:00")]
    public TimeSpan ShutdownGrace { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>After the grace period, how long in-flight requests get to finish before they are cut.</summary>
    [TimeSpanRange("00:00:01", "00:10:00")]
    public TimeSpan DrainTimeout { get; set; } = TimeSpan.FromSeconds(25);
}

[OptionsValidator]
internal sealed partial class ControlOptionsValidator : IValidateOptions<ControlOptions>;
