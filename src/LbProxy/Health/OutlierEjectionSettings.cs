using System.Globalization;
using System.Runtime.CompilerServices;
using Yarp.ReverseProxy.Model;

namespace LbProxy.Health;

/// <summary>
/// A cluster's outlier ejection, from its metadata: <c>OutlierEjection.Consecutive5xx</c> (off when absent or
/// 0), <c>OutlierEjection.MaxEjectedPercent</c> (default 50) and <c>OutlierEjection.Duration</c> (default 30 s).
/// Parsed once per cluster model.
/// </summary>
internal sealed record OutlierEjectionSettings(int Consecutive5xx, int MaxEjectedPercent, TimeSpan Duration)
{
    public const string ConsecutiveKey = "OutlierEjection.Consecutive5xx";
    public const string MaxEjectedPercentKey = "OutlierEjection.MaxEjectedPercent";
    public const string DurationKey = "OutlierEjection.Duration";

    private static readonly ConditionalWeakTable<ClusterModel, StrongBox<OutlierEjectionSettings?>> Cache = new();

    /// <summary>The cluster's settings, or null when ejection is off for it.</summary>
    public static OutlierEjectionSettings? Of(ClusterModel cluster)
    {
        if (Cache.TryGetValue(cluster, out var known))
        {
            return known.Value;
        }

        var (settings, _) = Parse(cluster.Config.Metadata);
        Cache.AddOrUpdate(cluster, new StrongBox<OutlierEjectionSettings?>(settings));
        return settings;
    }

    /// <summary>The settings the metadata means, or the first problem with it.</summary>
    public static (OutlierEjectionSettings? Settings, string? Error) Parse(IReadOnlyDictionary<string, string>? metadata)
    {
        if (metadata is null || !metadata.TryGetValue(ConsecutiveKey, out var consecutiveText))
        {
            return (null, null);
        }

        if (!int.TryParse(consecutiveText, NumberStyles.Integer, CultureInfo.InvariantCulture, out var consecutive) || consecutive < 0)
        {
            return (null, $"{ConsecutiveKey} must be a whole number of at least 0, not '{consecutiveText}'");
        }

        var percent = 50;
        if (metadata.TryGetValue(MaxEjectedPercentKey, out var percentText)
            && (!int.TryParse(percentText, NumberStyles.Integer, CultureInfo.InvariantCulture, out percent) || percent is < 1 or > 100))
        {
            return (null, $"{MaxEjectedPercentKey} must be a whole number from 1 to 100, not '{percentText}'");
        }

        var duration = TimeSpan.FromSeconds(30);
        if (metadata.TryGetValue(DurationKey, out var durationText)
            && (!TimeSpan.TryParse(durationText, CultureInfo.InvariantCulture, out duration) || duration <= TimeSpan.Zero))
        {
            return (null, $"{DurationKey} must be a positive time such as 00:00:30, not '{durationText}'");
        }

        return (consecutive == 0 ? null : new OutlierEjectionSettings(consecutive, percent, duration), null);
    }
}
