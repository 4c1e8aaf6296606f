using LbProxy.LoadBalancing;
using Microsoft.Extensions.Time.Testing;

namespace LbProxy.Tests.LoadBalancing;

public sealed class RetryBudgetTests
{
    [Fact]
    public void TryTakeRetry_AtMostTheShareOfRequestsInTheWindow()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UnixEpoch);
        var budget = new RetryBudget(time, windowSeconds: 10);
        for (var i = 0; i < 100; i++)
        {
            budget.RecordRequest();
        }

        var granted = Enumerable.Range(0, 50).Count(_ => budget.TryTakeRetry(percent: 20, minPerSecond: 0));

        Assert.Equal(20, granted);
    }

    [Fact]
    public void TryTakeRetry_FloorAllowsAQuietClusterToRetry()
    {
        var budget = new RetryBudget(new FakeTimeProvider(DateTimeOffset.UnixEpoch), windowSeconds: 10);
        budget.RecordRequest();

        var granted = Enumerable.Range(0, 100).Count(_ => budget.TryTakeRetry(percent: 20, minPerSecond: 2));

        Assert.Equal(20, granted); // 2 per second over a 10 s window
    }

    [Fact]
    public void TryTakeRetry_OldRequestsAndRetriesLeaveTheWindow()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UnixEpoch);
        var budget = new RetryBudget(time, windowSeconds: 10);
        for (var i = 0; i < 100; i++)
        {
            budget.RecordRequest();
        }

        Assert.Equal(20, Enumerable.Range(0, 30).Count(_ => budget.TryTakeRetry(20, 0)));

        time.Advance(TimeSpan.FromSeconds(5));
        Assert.False(budget.TryTakeRetry(20, 0)); // still inside the window: spent

        time.Advance(TimeSpan.FromSeconds(6));
        Assert.False(budget.TryTakeRetry(20, 0)); // the window has moved on: no requests left to earn retries
        for (var i = 0; i < 10; i++)
        {
            budget.RecordRequest();
        }

        Assert.Equal(2, Enumerable.Range(0, 10).Count(_ => budget.TryTakeRetry(20, 0)));
    }
}
