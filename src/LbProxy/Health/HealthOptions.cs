using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace LbProxy.Health;

/// <summary>What a client is told when a cluster has no healthy destination.</summary>
internal sealed class HealthOptions
{
    public const string SectionName = "LbProxy:Health";

    /// <summary>The <c>Retry-After</c> of the 503 answered when no destination of a cluster is healthy.</summary>
    [Range(1, 3600)]
    public int RetryAfterSeconds { get; set; } = 5;
}

[OptionsValidator]
internal sealed partial class HealthOptionsValidator : IValidateOptions<HealthOptions>;
