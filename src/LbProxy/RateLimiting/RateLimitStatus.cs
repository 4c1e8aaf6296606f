using System.Text.Json.Serialization;

namespace LbProxy.RateLimiting;

/// <summary>
/// One policy in the <c>rateLimits</c> section of <c>/_lb/status</c>: its kind, partitioning and figures (a figure
/// its kind does not use is left out), its live partitions (shared ones included) and the requests it refused.
/// </summary>
internal sealed record RateLimitStatus(
    string Name,
    string Kind,
    string PartitionBy,
    int? TokenLimit,
    int? TokensPerPeriod,
    TimeSpan? ReplenishmentPeriod,
    int? PermitLimit,
    TimeSpan? Window,
    int? SegmentsPerWindow,
    int QueueLimit,
    int MaxPartitions,
    int Partitions,
    int SharedPartitions,
    long Limited)
{
    public static IReadOnlyList<RateLimitStatus> Capture(RateLimitPolicies policies) =>
        [.. policies.Current.Values.OrderBy(static p => p.Name, StringComparer.OrdinalIgnoreCase).Select(p =>
        {
            var o = p.Options;
            return new RateLimitStatus(
                p.Name, o.Kind.ToString(), o.PartitionBy.ToString(), o.TokenLimit, o.TokensPerPeriod, o.ReplenishmentPeriod,
                o.PermitLimit, o.Window, o.SegmentsPerWindow, o.QueueLimit, o.MaxPartitions,
                p.Partitions.Count, p.Partitions.SharedCount, policies.LimitedBy(p.Name));
        })];
}

/// <summary>Source-generated JSON of this stage's status section (camelCase, figures a kind does not use left out).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(IReadOnlyList<RateLimitStatus>))]
internal sealed partial class RateLimitingJsonContext : JsonSerializerContext;
