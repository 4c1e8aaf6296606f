namespace LbProxy.Tests.Infrastructure;

/// <summary>Polls for a state with a bound, instead of sleeping for a guessed time.</summary>
internal static class Poll
{
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(50);

    /// <summary>Takes <paramref name="probe"/> until <paramref name="done"/> holds, and returns that reading; fails after <paramref name="bound"/>.</summary>
    public static async Task<T> UntilAsync<T>(Func<Task<T>> probe, Func<T, bool> done, TimeSpan bound, string what)
    {
        var deadline = DateTime.UtcNow + bound;
        var last = await probe();
        while (!done(last))
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"{what} did not happen within {bound}; last reading: {last}");
            }

            await Task.Delay(Interval);
            last = await probe();
        }

        return last;
    }
}
