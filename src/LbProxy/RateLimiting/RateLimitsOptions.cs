using System.Globalization;

namespace LbProxy.RateLimiting;

/// <summary>Which limiter of <c>System.Threading.RateLimiting</c> a policy builds for each partition.</summary>
internal enum RateLimitKind
{
    TokenBucket,
    FixedWindow,
    SlidingWindow,
    Concurrency,
}

/// <summary>What a policy's partitions are keyed on.</summary>
internal enum PartitionSource
{
    ClientIp,
    Header,
    Route,
    None,
}

/// <summary><c>PartitionBy</c>: <c>ClientIp</c>, <c>Header:&lt;name&gt;</c>, <c>Route</c> or <c>None</c>.</summary>
internal readonly record struct PartitionBy(PartitionSource Source, string? HeaderName)
{
    public const string HeaderPrefix = "Header:";

    public override string ToString() => Source == PartitionSource.Header ? HeaderPrefix + HeaderName : Source.ToString();
}

/// <summary>
/// One policy of <c>LbProxy:RateLimits:&lt;name&gt;</c>. The figures carry the names of
/// <c>System.Threading.RateLimiting</c>'s options; a figure the kind does not use is null. Two policies with equal
/// options are the same policy: a reload that leaves a policy's options as they were keeps its partitions (and
/// every client's state), one that changes them starts it afresh.
/// </summary>
internal sealed record RateLimitPolicyOptions(
    RateLimitKind Kind,
    PartitionBy PartitionBy,
    int? TokenLimit,
    int? TokensPerPeriod,
    TimeSpan? ReplenishmentPeriod,
    int? PermitLimit,
    TimeSpan? Window,
    int? SegmentsPerWindow,
    int QueueLimit,
    int MaxPartitions);

/// <summary>
/// <c>LbProxy:RateLimits</c>: rate limit policies by name, which routes name in YARP's own <c>RateLimiterPolicy</c>
/// key. Read by hand rather than by the binder, so that each error names its key (<c>LbProxy:RateLimits:api:TokenLimit</c>)
/// and is placed at its line; the same reader checks a candidate (<see cref="RateLimitsConfigCheck"/>) and fills the
/// live options, so the check and what is applied cannot disagree.
/// </summary>
internal sealed class RateLimitsOptions
{
    public const string SectionName = "LbProxy:RateLimits";

    /// <summary>Partitions of a policy unless it says <c>MaxPartitions</c>.</summary>
    public const int DefaultMaxPartitions = 10_000;

    /// <summary>
    /// At least the shared partitions and as many again: a policy always has partitions of its own.
    /// </summary>
    public const int MinMaxPartitions = 2 * RateLimitPartitions.SharedPartitions;

    public const int MaxMaxPartitions = 1_000_000;

    /// <summary>
    /// The shortest period or window segment: partitions are replenished by one timer every
    /// <see cref="RateLimitPartitions.TickInterval"/> (as <c>PartitionedRateLimiter.Create</c> does), so a shorter
    /// period would silently be this one.
    /// </summary>
    public static readonly TimeSpan MinPeriod = RateLimitPartitions.TickInterval;

    public static readonly TimeSpan MaxPeriod = TimeSpan.FromDays(1);

    private static readonly string[] Reserved = ["Default", "Disable"];

    private static readonly Dictionary<RateLimitKind, string[]> FiguresOf = new()
    {
        [RateLimitKind.TokenBucket] = ["TokenLimit", "TokensPerPeriod", "ReplenishmentPeriod"],
        [RateLimitKind.FixedWindow] = ["PermitLimit", "Window"],
        [RateLimitKind.SlidingWindow] = ["PermitLimit", "Window", "SegmentsPerWindow"],
        [RateLimitKind.Concurrency] = ["PermitLimit"],
    };

    private static readonly string[] CommonKeys = ["Kind", "PartitionBy", "QueueLimit", "MaxPartitions"];

    /// <summary>The valid policies, by name (case-insensitive, as configuration keys are).</summary>
    public Dictionary<string, RateLimitPolicyOptions> Policies { get; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Fills <see cref="Policies"/> from the section; invalid policies are left out (the check refused them).</summary>
    public void Read(IConfiguration section) => Read(section, Policies, errors: null);

    /// <summary>Every policy of <paramref name="section"/>; each problem with the key it is about.</summary>
    public static void Read(IConfiguration section, Dictionary<string, RateLimitPolicyOptions> policies, List<(string Key, string Message)>? errors)
    {
        foreach (var policy in section.GetChildren())
        {
            var policyErrors = new List<(string, string)>();
            var options = ReadPolicy(policy, policyErrors);
            if (policyErrors.Count == 0 && options is not null)
            {
                policies[policy.Key] = options;
            }

            errors?.AddRange(policyErrors);
        }
    }

    private static RateLimitPolicyOptions? ReadPolicy(IConfigurationSection policy, List<(string Key, string Message)> errors)
    {
        var name = policy.Key;
        if (Reserved.Contains(name, StringComparer.OrdinalIgnoreCase))
        {
            errors.Add((policy.Path, $"'{name}' is a reserved RateLimiterPolicy value of YARP's routes, not a policy name"));
            return null;
        }

        if (policy.Value is not null && !policy.GetChildren().Any())
        {
            errors.Add((policy.Path, $"rate limit policy '{name}' must be an object with a Kind"));
            return null;
        }

        var kindText = policy["Kind"];
        if (string.IsNullOrWhiteSpace(kindText))
        {
            errors.Add((policy.Path, $"rate limit policy '{name}' has no Kind (TokenBucket, FixedWindow, SlidingWindow or Concurrency)"));
            return null;
        }

        if (!Enum.TryParse<RateLimitKind>(kindText, ignoreCase: true, out var kind) || !Enum.IsDefined(kind) || int.TryParse(kindText, out _))
        {
            errors.Add(($"{policy.Path}:Kind", $"Kind must be TokenBucket, FixedWindow, SlidingWindow or Concurrency, not '{kindText}'"));
            return null;
        }

        var figures = FiguresOf[kind];
        foreach (var child in policy.GetChildren())
        {
            if (!CommonKeys.Contains(child.Key, StringComparer.OrdinalIgnoreCase) && !figures.Contains(child.Key, StringComparer.OrdinalIgnoreCase))
            {
                var usedBy = FiguresOf.Where(p => p.Value.Contains(child.Key, StringComparer.OrdinalIgnoreCase)).Select(static p => p.Key.ToString()).ToList();
                errors.Add((child.Path, usedBy.Count > 0
                    ? $"{child.Key} is not a figure of {kind} (it is one of {string.Join(", ", usedBy)}); {kind} takes {string.Join(", ", figures)}"
                    : $"unknown key {child.Key}; {kind} takes {string.Join(", ", figures)}, and every kind PartitionBy, QueueLimit and MaxPartitions"));
            }
        }

        var partitionBy = ReadPartitionBy(policy, errors);
        var queueLimit = ReadInt(policy, "QueueLimit", 0, 10_000, 0, errors);
        var maxPartitions = ReadInt(policy, "MaxPartitions", MinMaxPartitions, MaxMaxPartitions, DefaultMaxPartitions, errors);
        int? tokenLimit = null, tokensPerPeriod = null, permitLimit = null, segments = null;
        TimeSpan? period = null, window = null;
        switch (kind)
        {
            case RateLimitKind.TokenBucket:
                tokenLimit = ReadInt(policy, "TokenLimit", 1, 1_000_000, null, errors);
                tokensPerPeriod = ReadInt(policy, "TokensPerPeriod", 1, 1_000_000, null, errors);
                period = ReadTime(policy, "ReplenishmentPeriod", TimeSpan.FromSeconds(1), errors);
                break;
            case RateLimitKind.FixedWindow:
                permitLimit = ReadInt(policy, "PermitLimit", 1, 1_000_000, null, errors);
                window = ReadTime(policy, "Window", TimeSpan.FromSeconds(1), errors);
                break;
            case RateLimitKind.SlidingWindow:
                permitLimit = ReadInt(policy, "PermitLimit", 1, 1_000_000, null, errors);
                window = ReadTime(policy, "Window", TimeSpan.FromSeconds(1), errors);
                segments = ReadInt(policy, "SegmentsPerWindow", 1, 1_000, null, errors);
                if (window is { } w && segments is { } s && w / s < MinPeriod)
                {
                    errors.Add(($"{policy.Path}:SegmentsPerWindow",
                        $"Window / SegmentsPerWindow must be at least {MinPeriod.TotalMilliseconds} ms (segments are replenished every {MinPeriod.TotalMilliseconds} ms), not {(w / s).TotalMilliseconds} ms"));
                }

                break;
            case RateLimitKind.Concurrency:
                permitLimit = ReadInt(policy, "PermitLimit", 1, 1_000_000, null, errors);
                break;
        }

        return errors.Count > 0 || partitionBy is null
            ? null
            : new RateLimitPolicyOptions(kind, partitionBy.Value, tokenLimit, tokensPerPeriod, period, permitLimit, window, segments, queueLimit ?? 0, maxPartitions ?? DefaultMaxPartitions);
    }

    private static PartitionBy? ReadPartitionBy(IConfigurationSection policy, List<(string Key, string Message)> errors)
    {
        var text = policy["PartitionBy"];
        if (text is null)
        {
            return new PartitionBy(PartitionSource.ClientIp, null);
        }

        if (text.StartsWith(PartitionBy.HeaderPrefix, StringComparison.OrdinalIgnoreCase))
        {
            var header = text[PartitionBy.HeaderPrefix.Length..].Trim();
            if (header.Length > 0 && header.All(IsTokenChar))
            {
                return new PartitionBy(PartitionSource.Header, header);
            }

            errors.Add(($"{policy.Path}:PartitionBy", $"PartitionBy Header:<name> needs a header name (letters, digits, '-'), not '{text}'"));
            return null;
        }

        foreach (var source in (ReadOnlySpan<PartitionSource>)[PartitionSource.ClientIp, PartitionSource.Route, PartitionSource.None])
        {
            if (string.Equals(text, source.ToString(), StringComparison.OrdinalIgnoreCase))
            {
                return new PartitionBy(source, null);
            }
        }

        errors.Add(($"{policy.Path}:PartitionBy", $"PartitionBy must be ClientIp, Header:<name>, Route or None, not '{text}'"));
        return null;
    }

    private static bool IsTokenChar(char c) => char.IsAsciiLetterOrDigit(c) || "!#$%&'*+-.^_`|~".Contains(c, StringComparison.Ordinal);

    private static int? ReadInt(IConfigurationSection policy, string key, int min, int max, int? defaultValue, List<(string Key, string Message)> errors)
    {
        var text = policy[key];
        if (text is null)
        {
            if (defaultValue is null)
            {
                errors.Add(($"{policy.Path}:{key}", $"{key} is required for {policy["Kind"]}: a whole number from {min} to {max}"));
            }

            return defaultValue;
        }

        if (int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) && value >= min && value <= max)
        {
            return value;
        }

        errors.Add(($"{policy.Path}:{key}", $"{key} must be a whole number from {min} to {max}, not '{text}'"));
        return null;
    }

    private static TimeSpan? ReadTime(IConfigurationSection policy, string key, TimeSpan defaultValue, List<(string Key, string Message)> errors)
    {
        var text = policy[key];
        if (text is null)
        {
            return defaultValue;
        }

        if (TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out var value) && value >= MinPeriod && value <= MaxPeriod)
        {
            return value;
        }

        errors.Add(($"{policy.Path}:{key}", $"{key} must be a time from {MinPeriod:c} to 1.00:00:00, such as 00:00:01, not '{text}'"));
        return null;
    }
}
