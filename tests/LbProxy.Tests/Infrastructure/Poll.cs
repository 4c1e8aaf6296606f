using System.Diagnostics;

namespace LbProxy.Tests.Infrastructure;

/// <summary>
/// The one way tests wait for a state they cannot be signalled about: read it again and again, with a bound,
/// instead of sleeping for a guessed time.
/// </summary>
internal static class Poll
{
    public static readonly TimeSpan DefaultInterval = TimeSpan.FromMilliseconds(50);

    /// <summary>Takes <paramref name="probe"/> until <paramref name="done"/> holds, and returns that reading; fails after <paramref name="bound"/>.</summary>
    /// <param name="describe">What the failure shows of the last reading; its <c>ToString()</c> when null.</param>
    public static async Task<T> UntilAsync<T>(Func<Task<T>> probe, Func<T, bool> done, TimeSpan bound, string what, Func<T, string>? describe = null)
    {
        var result = await TryUntilAsync(probe, done, bound);
        if (!result.Reached)
        {
            Assert.Fail($"{what} did not happen within {bound}; last reading: {(describe is null ? result.Last?.ToString() : describe(result.Last))}");
        }

        return result.Last;
    }

    /// <summary>Waits until <paramref name="condition"/> holds; fails after <paramref name="bound"/>, with <paramref name="describe"/>'s account of the state then.</summary>
    public static Task UntilAsync(Func<bool> condition, TimeSpan bound, string what, Func<string>? describe = null) =>
        UntilAsync(() => Task.FromResult(condition()), bound, what, describe);

    /// <inheritdoc cref="UntilAsync(Func{bool}, TimeSpan, string, Func{string}?)"/>
    public static Task UntilAsync(Func<Task<bool>> condition, TimeSpan bound, string what, Func<string>? describe = null) =>
        UntilAsync(condition, static held => held, bound, what, _ => describe is null ? "the condition was false" : describe());

    /// <summary>
    /// Takes <paramref name="probe"/> until <paramref name="done"/> holds or <paramref name="bound"/> passes, and
    /// returns the last reading with whether it held: for callers that judge a miss themselves, such as a leak
    /// detector whose own test expects it to report one.
    /// </summary>
    public static async Task<PollResult<T>> TryUntilAsync<T>(Func<Task<T>> probe, Func<T, bool> done, TimeSpan bound, TimeSpan? interval = null)
    {
        var elapsed = Stopwatch.StartNew();
        var last = await probe();
        while (!done(last))
        {
            if (elapsed.Elapsed > bound)
            {
                return new PollResult<T>(last, Reached: false);
            }

            await Task.Delay(interval ?? DefaultInterval);
            last = await probe();
        }

        return new PollResult<T>(last, Reached: true);
    }
}
