using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using LbProxy.Metrics;

namespace LbProxy.LoadBalancing;

/// <summary>
/// A cluster's retry budget over a sliding window of one-second buckets: a retry is allowed while the retries
/// in the window stay under a share of the requests in it (plus a small floor). When an origin pool fails as a
/// whole, retries stop at that share instead of multiplying the load on it.
/// </summary>
internal sealed class RetryBudget(TimeProvider time, int windowSeconds)
{
    private readonly Lock _lock = new();
    private readonly long[] _requests = new long[windowSeconds];
    private readonly long[] _retries = new long[windowSeconds];
    private long _currentSecond = -1;

    public int WindowSeconds => _requests.Length;

    public void RecordRequest()
    {
        lock (_lock)
        {
            _requests[Advance()]++;
        }
    }

    /// <summary>Takes one retry from the budget, or says no.</summary>
    public bool TryTakeRetry(double percent, int minPerSecond)
    {
        lock (_lock)
        {
            var bucket = Advance();
            long requests = 0, retries = 0;
            for (var i = 0; i < _requests.Length; i++)
            {
                requests += _requests[i];
                retries += _retries[i];
            }

            var allowed = Math.Max(requests * percent / 100.0, (double)minPerSecond * _requests.Length);
            if (retries + 1 > allowed)
            {
                return false;
            }

            _retries[bucket]++;
            return true;
        }
    }

    private int Advance()
    {
        var second = time.GetUtcNow().ToUnixTimeSeconds();
        if (_currentSecond < 0 || second - _currentSecond >= _requests.Length)
        {
            Array.Clear(_requests);
            Array.Clear(_retries);
        }
        else
        {
            for (var s = _currentSecond + 1; s <= second; s++)
            {
                var stale = (int)(s % _requests.Length);
                _requests[stale] = 0;
                _retries[stale] = 0;
            }
        }

        _currentSecond = Math.Max(_currentSecond, second);
        return (int)(_currentSecond % _requests.Length);
    }
}

/// <summary>
/// One retry budget per cluster id, kept across reloads that keep the cluster and forgotten once a reload drops
/// it (blue/green pools under fresh names would otherwise add one per deploy). A changed
/// <see cref="RetryOptions.BudgetWindow"/> applies at the cluster's next request, with a fresh budget.
/// </summary>
internal sealed class RetryBudgets(TimeProvider time, IOptionsMonitor<RetryOptions> options) : IClusterSeries
{
    private readonly ConcurrentDictionary<string, RetryBudget> _budgets = new(StringComparer.OrdinalIgnoreCase);

    public int Count => _budgets.Count;

    public RetryBudget For(string clusterId)
    {
        var window = Math.Max(1, (int)options.CurrentValue.BudgetWindow.TotalSeconds);
        var budget = _budgets.GetOrAdd(clusterId, static (_, state) => new RetryBudget(state.time, state.window), (time, window));
        if (budget.WindowSeconds == window)
        {
            return budget;
        }

        var fresh = new RetryBudget(time, window);
        return _budgets.TryUpdate(clusterId, fresh, budget) ? fresh : For(clusterId);
    }

    /// <summary>Forgets the budgets of the clusters the applied config no longer has (see <see cref="ClusterSeriesConfigListener"/>).</summary>
    public void Configure(ConfiguredIds ids)
    {
        foreach (var clusterId in _budgets.Keys)
        {
            if (!ids.HasCluster(clusterId))
            {
                _budgets.TryRemove(clusterId, out _);
            }
        }
    }
}
