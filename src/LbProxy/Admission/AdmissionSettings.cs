using System.Globalization;
using System.Runtime.CompilerServices;
using Yarp.ReverseProxy.Model;

namespace LbProxy.Admission;

/// <summary>
/// A cluster's origin protection, from its metadata: <c>Concurrency.MaxPerDestination</c> (off when absent),
/// <c>Concurrency.MaxQueue</c> (default 100), <c>Concurrency.QueueTimeout</c> (default 5 s),
/// <c>Concurrency.Adaptive</c> (default false; MaxPerDestination is then the ceiling) and
/// <c>Concurrency.DegradeFormats</c> (default false). Parsed once per cluster model: a reload that changes them
/// makes a new model, hence new settings, while the counts stay with the destinations.
/// </summary>
internal sealed record AdmissionSettings(int MaxPerDestination, int MaxQueue, TimeSpan QueueTimeout, bool Adaptive, bool DegradeFormats)
{
    public const string Prefix = "Concurrency.";
    public const string MaxPerDestinationKey = "Concurrency.MaxPerDestination";
    public const string MaxQueueKey = "Concurrency.MaxQueue";
    public const string QueueTimeoutKey = "Concurrency.QueueTimeout";
    public const string AdaptiveKey = "Concurrency.Adaptive";
    public const string DegradeFormatsKey = "Concurrency.DegradeFormats";

    public const int DefaultMaxQueue = 100;
    public static readonly TimeSpan DefaultQueueTimeout = TimeSpan.FromSeconds(5);

    // Bounds that catch a typo (an extra zero) rather than a real need: a queue is memory, a wait is a held client.
    public const int MaxLimit = 100_000;
    public const int MaxQueueLimit = 100_000;
    public static readonly TimeSpan MaxQueueTimeout = TimeSpan.FromMinutes(10);

    private static readonly string[] Keys = [MaxPerDestinationKey, MaxQueueKey, QueueTimeoutKey, AdaptiveKey, DegradeFormatsKey];

    private static readonly ConditionalWeakTable<ClusterModel, StrongBox<AdmissionSettings?>> Cache = new();

    /// <summary>Seconds a shed client is told to wait: the queue timeout, rounded up, at least 1.</summary>
    public int RetryAfterSeconds { get; } = Math.Max(1, (int)Math.Ceiling(QueueTimeout.TotalSeconds));

    /// <summary>The cluster's settings, or null when it has no limits (the stage then costs one lookup).</summary>
    public static AdmissionSettings? Of(ClusterModel cluster)
    {
        if (Cache.TryGetValue(cluster, out var known))
        {
            return known.Value;
        }

        var settings = Parse(cluster.Config.Metadata).Settings;
        Cache.AddOrUpdate(cluster, new StrongBox<AdmissionSettings?>(settings));
        return settings;
    }

    /// <summary>The settings the metadata means, or the first problem with it and the metadata key it is about.</summary>
    public static (AdmissionSettings? Settings, string? ErrorKey, string? Error) Parse(IReadOnlyDictionary<string, string>? metadata)
    {
        if (metadata is null)
        {
            return (null, null, null);
        }

        foreach (var key in metadata.Keys)
        {
            if (key.StartsWith(Prefix, StringComparison.OrdinalIgnoreCase) && !Keys.Contains(key, StringComparer.OrdinalIgnoreCase))
            {
                return (null, key, $"'{key}' is not a concurrency setting: use {string.Join(", ", Keys)}");
            }
        }

        if (!metadata.TryGetValue(MaxPerDestinationKey, out var maxText))
        {
            foreach (var key in Keys)
            {
                if (metadata.ContainsKey(key))
                {
                    return (null, key, $"{key} means nothing without {MaxPerDestinationKey}");
                }
            }

            return (null, null, null);
        }

        if (!int.TryParse(maxText, NumberStyles.Integer, CultureInfo.InvariantCulture, out var max) || max is < 1 or > MaxLimit)
        {
            return (null, MaxPerDestinationKey, $"{MaxPerDestinationKey} must be a whole number from 1 to {MaxLimit}, not '{maxText}'");
        }

        var queue = DefaultMaxQueue;
        if (metadata.TryGetValue(MaxQueueKey, out var queueText)
            && (!int.TryParse(queueText, NumberStyles.Integer, CultureInfo.InvariantCulture, out queue) || queue is < 0 or > MaxQueueLimit))
        {
            return (null, MaxQueueKey, $"{MaxQueueKey} must be a whole number from 0 to {MaxQueueLimit}, not '{queueText}'");
        }

        var timeout = DefaultQueueTimeout;
        if (metadata.TryGetValue(QueueTimeoutKey, out var timeoutText)
            && (!TimeSpan.TryParse(timeoutText, CultureInfo.InvariantCulture, out timeout) || timeout <= TimeSpan.Zero || timeout > MaxQueueTimeout))
        {
            return (null, QueueTimeoutKey, $"{QueueTimeoutKey} must be a positive time up to 00:10:00 such as 00:00:05, not '{timeoutText}'");
        }

        var adaptive = false;
        if (metadata.TryGetValue(AdaptiveKey, out var adaptiveText) && !bool.TryParse(adaptiveText, out adaptive))
        {
            return (null, AdaptiveKey, $"{AdaptiveKey} must be true or false, not '{adaptiveText}'");
        }

        var degrade = false;
        if (metadata.TryGetValue(DegradeFormatsKey, out var degradeText) && !bool.TryParse(degradeText, out degrade))
        {
            return (null, DegradeFormatsKey, $"{DegradeFormatsKey} must be true or false, not '{degradeText}'");
        }

        return (new AdmissionSettings(max, queue, timeout, adaptive, degrade), null, null);
    }
}
