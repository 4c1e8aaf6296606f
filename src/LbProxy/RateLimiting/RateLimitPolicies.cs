using System.Collections.Frozen;
using Microsoft.Extensions.Options;

namespace LbProxy.RateLimiting;

/// <summary>
/// The live policies, by name, rebuilt from <c>LbProxy:RateLimits</c> whenever the options change (a reload swaps
/// the options before YARP's routes, so a route naming a new policy finds it). A policy whose options did not change
/// keeps its partitions; a changed or removed one is disposed, and the requests queued in it are refused (429).
/// The limited counts are kept by name across reloads. One timer replenishes every partition while there are
/// policies; with none there is no timer and the middleware costs one read of <see cref="Current"/>.
/// </summary>
internal sealed class RateLimitPolicies : IDisposable
{
    private readonly Lock _lock = new();
    private readonly TimeProvider _time;
    private readonly IDisposable? _subscription;
    private FrozenDictionary<string, RateLimitPolicy> _current = FrozenDictionary<string, RateLimitPolicy>.Empty;
    private FrozenDictionary<string, LimitedCount> _limited = FrozenDictionary<string, LimitedCount>.Empty;
    private ITimer? _timer;
    private bool _disposed;

    public RateLimitPolicies(IOptionsMonitor<RateLimitsOptions> options, TimeProvider time)
    {
        _time = time;
        Apply(options.CurrentValue);
        _subscription = options.OnChange(Apply);
    }

    /// <summary>The policies now, by name (case-insensitive); empty when none is configured.</summary>
    public FrozenDictionary<string, RateLimitPolicy> Current => Volatile.Read(ref _current);

    /// <summary>Counts a request refused by <paramref name="policy"/>.</summary>
    public void CountLimited(RateLimitPolicy policy)
    {
        if (Volatile.Read(ref _limited).TryGetValue(policy.Name, out var count))
        {
            Interlocked.Increment(ref count.Value);
        }
    }

    /// <summary>Requests <paramref name="name"/> refused since start (or since it was last configured anew).</summary>
    public long LimitedBy(string name) => Volatile.Read(ref _limited).TryGetValue(name, out var count) ? Interlocked.Read(ref count.Value) : 0;

    public void Dispose()
    {
        lock (_lock)
        {
            _disposed = true;
            _subscription?.Dispose();
            _timer?.Dispose();
            foreach (var policy in _current.Values)
            {
                policy.Dispose();
            }
        }
    }

    private void Apply(RateLimitsOptions options)
    {
        List<RateLimitPolicy> retired = [];
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            var old = _current;
            var next = new Dictionary<string, RateLimitPolicy>(StringComparer.OrdinalIgnoreCase);
            foreach (var (name, policyOptions) in options.Policies)
            {
                next[name] = old.TryGetValue(name, out var kept) && kept.Options == policyOptions && kept.Name == name
                    ? kept
                    : new RateLimitPolicy(name, policyOptions);
            }

            retired.AddRange(old.Values.Where(p => !next.TryGetValue(p.Name, out var now) || !ReferenceEquals(now, p)));
            var limited = _limited;
            _limited = next.Keys.ToFrozenDictionary(
                static name => name,
                name => limited.TryGetValue(name, out var count) ? count : new LimitedCount(),
                StringComparer.OrdinalIgnoreCase);
            Volatile.Write(ref _current, next.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase));

            if (next.Count > 0 && _timer is null)
            {
                _timer = _time.CreateTimer(static state => ((RateLimitPolicies)state!).Tick(), this, RateLimitPartitions.TickInterval, RateLimitPartitions.TickInterval);
            }
            else if (next.Count == 0 && _timer is not null)
            {
                _timer.Dispose();
                _timer = null;
            }
        }

        foreach (var policy in retired)
        {
            policy.Dispose();
        }
    }

    private void Tick()
    {
        foreach (var policy in Current.Values)
        {
            policy.Partitions.Tick(RateLimitPartitions.IdleTimeout);
        }
    }

    private sealed class LimitedCount
    {
        public long Value;
    }
}
