using System.ComponentModel.DataAnnotations;
using LbProxy.Configuration;
using Microsoft.Extensions.Options;

namespace LbProxy.LoadBalancing;

/// <summary>Safe retries of forwards that failed before any response byte reached the client.</summary>
internal sealed class RetryOptions
{
    public const string SectionName = "LbProxy:Retry";

    public bool Enabled { get; set; } = true;

    /// <summary>Attempts in all, the first one included: 3 means at most two retries.</summary>
    [Range(1, 10)]
    public int MaxAttempts { get; set; } = 3;

    /// <summary>
    /// Methods that are retried; empty means <see cref="DefaultMethods"/>. Only idempotent ones are safe; others
    /// need an operator's decision. (Empty by default because the configuration binder appends to an array
    /// that already has items: a default of GET and HEAD could never be narrowed to GET alone.)
    /// </summary>
    public string[] Methods { get; set; } = [];

    public static string[] DefaultMethods { get; } = ["GET", "HEAD"];

    /// <summary>Retries allowed per cluster as a share of its requests over <see cref="BudgetWindow"/>: at most 20% extra load.</summary>
    [Range(0, 100)]
    public double BudgetPercent { get; set; } = 20;

    /// <summary>Retries always allowed per second and cluster, so a quiet cluster can still retry.</summary>
    [Range(0, 1000)]
    public int MinRetriesPerSecond { get; set; } = 3;

    [TimeSpanRange("00:00:01", "00:10:00")]
    public TimeSpan BudgetWindow { get; set; } = TimeSpan.FromSeconds(10);
}

[OptionsValidator]
internal sealed partial class RetryOptionsValidator : IValidateOptions<RetryOptions>;
