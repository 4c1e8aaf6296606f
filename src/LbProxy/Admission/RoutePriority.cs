using System.Globalization;
using System.Runtime.CompilerServices;
using Yarp.ReverseProxy.Model;

namespace LbProxy.Admission;

/// <summary>
/// A route's queue priority, from its metadata <c>Priority</c>: an integer, higher first, default 0. Waiters of a
/// higher priority are handed a slot before earlier ones of a lower; within a priority, first come first served.
/// Parsed once per route model.
/// </summary>
internal static class RoutePriority
{
    public const string MetadataKey = "Priority";

    // Wide enough for any scheme of classes, narrow enough that a typo (an extra digit run) is caught.
    public const int Bound = 1_000_000;

    private static readonly ConditionalWeakTable<RouteModel, StrongBox<int>> Cache = new();

    public static int Of(RouteModel route)
    {
        if (Cache.TryGetValue(route, out var known))
        {
            return known.Value;
        }

        var priority = Parse(route.Config.Metadata).Priority;
        Cache.AddOrUpdate(route, new StrongBox<int>(priority));
        return priority;
    }

    public static (int Priority, string? Error) Parse(IReadOnlyDictionary<string, string>? metadata)
    {
        if (metadata is null || !metadata.TryGetValue(MetadataKey, out var text))
        {
            return (0, null);
        }

        return int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var priority) && priority is >= -Bound and <= Bound
            ? (priority, null)
            : (0, $"{MetadataKey} must be a whole number from -{Bound} to {Bound} (higher first), not '{text}'");
    }
}
