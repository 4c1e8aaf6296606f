using System.Diagnostics;
using System.Numerics;
using System.Runtime.CompilerServices;
using Yarp.ReverseProxy.Model;

namespace LbProxy.Metrics;

/// <summary>
/// Cumulative counts of proxied requests for the runtime sampler and the live page: started, completed by status
/// class (with the 404s of paths no route matches), a latency histogram, the peak of requests in flight, and requests per destination. Fed by
/// <see cref="ProxyMetricsMiddleware"/> with a few uncontended Interlocked operations per request and no
/// allocation (a destination's counter is allocated once, the first time it serves); read by one sampler tick.
/// </summary>
internal sealed class LiveTraffic
{
    /// <summary>Log-linear latency buckets in µs, 8 per octave (at most 12.5 % off), up to 2^27 µs (134 s).</summary>
    public const int LatencyBuckets = 200;

    /// <summary>Status classes: index 1 to 5 for 1xx to 5xx, 0 for anything else.</summary>
    public const int StatusClasses = 6;

    private static readonly long TicksPerMicrosecond = Math.Max(1, Stopwatch.Frequency / 1_000_000);

    private readonly long[] _byClass = new long[StatusClasses];
    private readonly long[] _latency = new long[LatencyBuckets];
    private readonly ConditionalWeakTable<DestinationState, StrongBox<long>> _byDestination = [];
    private long _started;
    private long _completed;
    private int _peak;

    public long Completed => Volatile.Read(ref _completed);

    public int InFlight => (int)Math.Max(0, Volatile.Read(ref _started) - Volatile.Read(ref _completed));

    public void Started()
    {
        var inFlight = (int)(Interlocked.Increment(ref _started) - Volatile.Read(ref _completed));
        // Written racily on purpose: it is a peak, and one compare is all it costs per request.
        if (inFlight > _peak)
        {
            _peak = inFlight;
        }
    }

    public void Finished(int statusCode, long elapsedTicks, DestinationState? destination)
    {
        var statusClass = statusCode / 100;
        Interlocked.Increment(ref _byClass[(uint)statusClass < StatusClasses ? statusClass : 0]);
        Interlocked.Increment(ref _latency[BucketOf(elapsedTicks)]);
        if (destination is not null)
        {
            Interlocked.Increment(ref _byDestination.GetValue(destination, static _ => new StrongBox<long>()).Value);
        }

        Interlocked.Increment(ref _completed);
    }

    /// <summary>
    /// A request no route matched, answered 404 by the proxy: counted with the 4xx of the status chart (an operator
    /// watching the page sees a client probing paths, or a route missing after a reload), not as a proxied request:
    /// neither in the latency histogram, nor in flight, nor in the requests the watchdog divides costs by.
    /// </summary>
    public void NotMatched() => Interlocked.Increment(ref _byClass[4]);

    /// <summary>The peak of requests in flight since the last call, which starts the next peak at the current level.</summary>
    public int TakePeak() => Math.Max(Interlocked.Exchange(ref _peak, InFlight), InFlight);

    /// <summary>Requests completed with each status class since start.</summary>
    public long CompletedInClass(int statusClass) => Volatile.Read(ref _byClass[statusClass]);

    /// <summary>Copies the cumulative latency histogram.</summary>
    public void CopyLatency(Span<long> into)
    {
        for (var i = 0; i < LatencyBuckets; i++)
        {
            into[i] = Volatile.Read(ref _latency[i]);
        }
    }

    /// <summary>Requests a destination has completed since start (0 for one that never served).</summary>
    public long CompletedBy(DestinationState destination) =>
        _byDestination.TryGetValue(destination, out var box) ? Volatile.Read(ref box.Value) : 0;

    public static int BucketOf(long elapsedTicks)
    {
        var us = (ulong)Math.Max(0, elapsedTicks / TicksPerMicrosecond);
        if (us < 8)
        {
            return (int)us;
        }

        var e = BitOperations.Log2(us);
        return Math.Min(LatencyBuckets - 1, 8 + ((e - 3) * 8) + (int)((us >> (e - 3)) & 7));
    }

    /// <summary>The middle of a bucket, in milliseconds.</summary>
    public static double MidpointMilliseconds(int bucket)
    {
        if (bucket < 8)
        {
            return (bucket + 0.5) / 1000;
        }

        var octave = (bucket - 8) / 8;
        var width = Math.Pow(2, octave);
        var low = (8 + ((bucket - 8) % 8)) * width;
        return (low + (width / 2)) / 1000;
    }
}
