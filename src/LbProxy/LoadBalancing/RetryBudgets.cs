using System.Collections.Concurrent;
using Microsoft.Extensions.Options;

namespace LbProxy.LoadBalancing;

/// <summary>One retry budget per cluster id, kept across reloads.</summary>
internal sealed class RetryBudgets(TimeProvider time, IOptions<RetryOptions> options)
{
    private readonly ConcurrentDictionary<string, RetryBudget> _budgets = new(StringComparer.OrdinalIgnoreCase);
    private readonly int _windowSeconds = Math.Max(1, (int)options.Value.BudgetWindow.TotalSeconds);

    public RetryBudget For(string clusterId) =>
        _budgets.GetOrAdd(clusterId, static (_, state) => new RetryBudget(state.time, state.window), (time, window: _windowSeconds));
}
