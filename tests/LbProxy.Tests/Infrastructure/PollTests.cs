using Xunit.Sdk;

namespace LbProxy.Tests.Infrastructure;

/// <summary>The wait every other test relies on: it must return as soon as the state holds, and fail, saying so, when it does not.</summary>
public sealed class PollTests
{
    private static readonly TimeSpan Short = TimeSpan.FromMilliseconds(200);

    [Fact]
    public async Task UntilAsync_StateReachedAfterSomeReadings_ReturnsThatReading()
    {
        var readings = 0;

        var reading = await Poll.UntilAsync(() => Task.FromResult(++readings), static n => n == 3, TimeSpan.FromSeconds(10), "the third reading");

        Assert.Equal(3, reading);
        Assert.Equal(3, readings);
    }

    [Fact]
    public async Task UntilAsync_StateNeverReached_FailsNamingItAndTheLastReading()
    {
        var error = await Assert.ThrowsAsync<FailException>(() =>
            Poll.UntilAsync(static () => Task.FromResult(7), static n => n == 8, Short, "an eight", static n => $"still {n}"));

        Assert.Contains("an eight did not happen within", error.Message);
        Assert.Contains("still 7", error.Message);
    }

    [Fact]
    public async Task UntilAsync_ConditionNeverTrue_FailsWithItsDescription()
    {
        var error = await Assert.ThrowsAsync<FailException>(() => Poll.UntilAsync(static () => false, Short, "the impossible", static () => "as expected"));

        Assert.Contains("the impossible did not happen", error.Message);
        Assert.Contains("as expected", error.Message);
    }

    [Fact]
    public async Task TryUntilAsync_StateNeverReached_ReturnsTheLastReadingWithoutFailing()
    {
        var readings = 0;

        var result = await Poll.TryUntilAsync(() => Task.FromResult(++readings), static _ => false, Short, TimeSpan.FromMilliseconds(10));

        Assert.False(result.Reached);
        Assert.Equal(readings, result.Last);
        Assert.True(readings > 1, $"{readings} reading(s)");
    }
}
