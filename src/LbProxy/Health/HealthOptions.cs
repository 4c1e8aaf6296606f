using System.ComponentModel.DataAnnotations;
using LbProxy.Configuration;
using Microsoft.Extensions.Options;

namespace LbProxy.Health;

/// <summary>What a client is told when a cluster has no healthy destination.</summary>
internal sealed class HealthOptions
{
    public const string SectionName = "LbProxy:Health";

    /// <summary>The <c>Retry-After</c> of the 503 answered when no destination of a cluster is healthy.</summary>
    [Range(1, 3600)]
    public int RetryAfterSeconds { get; set; } = 5;

    /// <summary>
    /// How long a destination that refused a connection stays out, for clusters that set no
    /// <c>HealthCheck:Passive:ReactivationPeriod</c> of their own: nginx's <c>fail_timeout</c>, not YARP's 60 s,
    /// so a restarted origin is back soon (and if it still refuses, the next attempt costs one free retry).
    /// </summary>
    [TimeSpanRange("00:00:00.100", "01:00:00")]
    public TimeSpan RefusedReactivationPeriod { get; set; } = TimeSpan.FromSeconds(10);
}

[OptionsValidator]
internal sealed partial class HealthOptionsValidator : IValidateOptions<HealthOptions>;
