using Microsoft.Extensions.Primitives;

namespace LbProxy.Caching;

/// <summary>What the requests collapsed onto an origin request do once its response headers are known.</summary>
internal enum FlightOutcome
{
    /// <summary>The response is being stored: stream its bytes as they arrive.</summary>
    Stream,

    /// <summary>The origin failed and a stale entry was answered instead (or the origin's 304 refreshed it): answer it too.</summary>
    Stale,

    /// <summary>The response is not for sharing (uncacheable, too large, unknown length) or the request failed: go to the origin.</summary>
    Origin,
}

/// <summary>
/// One origin request for a key, which concurrent requests for the same key wait on instead of making their own
/// (collapsed forwarding). Decided once, by the request that leads it.
/// </summary>
internal sealed class Flight
{
    private readonly TaskCompletionSource<FlightOutcome> _decided = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _waiters;

    public int StatusCode { get; private set; }

    public KeyValuePair<string, StringValues>[] Headers { get; private set; } = [];

    public CacheBody? Body { get; private set; }

    public CacheEntry? StaleEntry { get; private set; }

    public int Waiters => Volatile.Read(ref _waiters);

    public bool IsDecided => _decided.Task.IsCompleted;

    public void DecideStream(int statusCode, KeyValuePair<string, StringValues>[] headers, CacheBody body)
    {
        StatusCode = statusCode;
        Headers = headers;
        Body = body;
        _decided.TrySetResult(FlightOutcome.Stream);
    }

    /// <summary>The <c>Cache-Status</c> of the waiters answered <see cref="StaleEntry"/>: stale-if-error, or revalidated.</summary>
    public string StaleCacheStatus { get; private set; } = "";

    public void DecideStale(CacheEntry entry, string cacheStatus)
    {
        StaleEntry = entry;
        StaleCacheStatus = cacheStatus;
        _decided.TrySetResult(FlightOutcome.Stale);
    }

    public void DecideOrigin() => _decided.TrySetResult(FlightOutcome.Origin);

    /// <summary>Waits for the decision, at most <paramref name="timeout"/>: null when it did not come in time.</summary>
    public async Task<FlightOutcome?> WaitAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _waiters);
        try
        {
            return await _decided.Task.WaitAsync(timeout, cancellationToken);
        }
        catch (TimeoutException)
        {
            return null;
        }
    }
}
