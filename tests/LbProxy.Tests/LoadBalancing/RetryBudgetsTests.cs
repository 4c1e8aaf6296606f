using LbProxy.LoadBalancing;
using LbProxy.Metrics;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Yarp.ReverseProxy.Configuration;

namespace LbProxy.Tests.LoadBalancing;

public sealed class RetryBudgetsTests
{
    private readonly FakeTimeProvider _time = new();
    private readonly ChangingOptions _options = new();

    [Fact]
    public void Configure_ClusterDropped_ItsBudgetIsForgottenAndTheOthersKept()
    {
        var budgets = new RetryBudgets(_time, _options);
        var kept = budgets.For("blue");
        budgets.For("green");

        budgets.Configure(ConfiguredIds.From([], [new ClusterConfig { ClusterId = "blue" }]));

        Assert.Equal(1, budgets.Count);
        Assert.Same(kept, budgets.For("blue"));
    }

    [Fact]
    public void For_BudgetWindowChanged_TheNextRequestGetsABudgetOverTheNewWindow()
    {
        _options.CurrentValue.BudgetWindow = TimeSpan.FromSeconds(1);
        var budgets = new RetryBudgets(_time, _options);
        Assert.Equal(1, Taken(budgets.For("images"), tries: 10)); // the floor: 1 retry per second of window

        _options.CurrentValue.BudgetWindow = TimeSpan.FromSeconds(5);

        Assert.Equal(5, budgets.For("images").WindowSeconds);
        Assert.Equal(5, Taken(budgets.For("images"), tries: 10));
    }

    private static int Taken(RetryBudget budget, int tries) =>
        Enumerable.Range(0, tries).Count(_ => budget.TryTakeRetry(percent: 0, minPerSecond: 1));

    /// <summary>An options monitor whose value a test edits in place, as a reload would replace it.</summary>
    private sealed class ChangingOptions : IOptionsMonitor<RetryOptions>
    {
        public RetryOptions CurrentValue { get; } = new();

        public RetryOptions Get(string? name) => CurrentValue;

        public IDisposable? OnChange(Action<RetryOptions, string?> listener) => null;
    }
}
