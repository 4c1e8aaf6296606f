using System.Threading.RateLimiting;

namespace LbProxy.RateLimiting;

/// <summary>
/// One live policy: its options and its partitions, each a limiter of <c>System.Threading.RateLimiting</c> built
/// with the options' figures, replenished by the policy set's timer (never a timer per limiter), queueing oldest first.
/// </summary>
internal sealed class RateLimitPolicy : IDisposable
{
    public RateLimitPolicy(string name, RateLimitPolicyOptions options)
    {
        Name = name;
        Options = options;
        Partitions = new RateLimitPartitions(options.MaxPartitions, CreateLimiter(options));
    }

    public string Name { get; }

    public RateLimitPolicyOptions Options { get; }

    public RateLimitPartitions Partitions { get; }

    /// <summary>
    /// <c>Retry-After</c> when the limiter does not say: one period or window segment, rounded up to whole
    /// seconds; a concurrency limit has no period, and 1 s is the least a client can be told.
    /// </summary>
    public TimeSpan DefaultRetryAfter => Options.Kind switch
    {
        RateLimitKind.TokenBucket => Options.ReplenishmentPeriod!.Value,
        RateLimitKind.FixedWindow => Options.Window!.Value,
        RateLimitKind.SlidingWindow => Options.Window!.Value / Options.SegmentsPerWindow!.Value,
        _ => TimeSpan.FromSeconds(1),
    };

    public void Dispose() => Partitions.Dispose();

    private static Func<RateLimiter> CreateLimiter(RateLimitPolicyOptions o) => o.Kind switch
    {
        RateLimitKind.TokenBucket => () => new TokenBucketRateLimiter(new TokenBucketRateLimiterOptions
        {
            TokenLimit = o.TokenLimit!.Value,
            TokensPerPeriod = o.TokensPerPeriod!.Value,
            ReplenishmentPeriod = o.ReplenishmentPeriod!.Value,
            QueueLimit = o.QueueLimit,
            QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
            AutoReplenishment = false,
        }),
        RateLimitKind.FixedWindow => () => new FixedWindowRateLimiter(new FixedWindowRateLimiterOptions
        {
            PermitLimit = o.PermitLimit!.Value,
            Window = o.Window!.Value,
            QueueLimit = o.QueueLimit,
            QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
            AutoReplenishment = false,
        }),
        RateLimitKind.SlidingWindow => () => new SlidingWindowRateLimiter(new SlidingWindowRateLimiterOptions
        {
            PermitLimit = o.PermitLimit!.Value,
            Window = o.Window!.Value,
            SegmentsPerWindow = o.SegmentsPerWindow!.Value,
            QueueLimit = o.QueueLimit,
            QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
            AutoReplenishment = false,
        }),
        _ => () => new ConcurrencyLimiter(new ConcurrencyLimiterOptions
        {
            PermitLimit = o.PermitLimit!.Value,
            QueueLimit = o.QueueLimit,
            QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
        }),
    };
}
