using LbProxy.Configuration;
using LbProxy.Forwarding;
using LbProxy.Metrics;
using Microsoft.Extensions.Options;

namespace LbProxy.Diagnostics;

/// <summary>
/// The one sampler of the process: one timer, created once at start, that every <c>SampleInterval</c> writes a row
/// of the ring (CPU, timers, thread pool, memory, allocation rate, connections, requests by status class, p50 and
/// p99, in flight) from APIs that do not allocate, then lets the watchdog judge it. A tick that comes late on a
/// starved pool is skipped, never stacked.
/// </summary>
internal sealed partial class RuntimeSampler : IHostedService, IDisposable
{
    private readonly SampleRing _ring;
    private readonly LeakWatchdog _watchdog;
    private readonly LiveTraffic _traffic;
    private readonly ClientConnections _client;
    private readonly UpstreamConnections _upstream;
    private readonly ConfigState _config;
    private readonly TimeProvider _time;
    private readonly ILogger<RuntimeSampler> _logger;
    private readonly ResidentMemory _memory = new();
    private readonly TimeSpan _interval;
    private readonly long[] _latencyNow = new long[LiveTraffic.LatencyBuckets];
    private readonly long[] _latencyBefore = new long[LiveTraffic.LatencyBuckets];
    private readonly long[] _classBefore = new long[LiveTraffic.StatusClasses];
    private readonly long _startTimestamp;
    private ITimer? _timer;
    private int _busy;
    private long _lastTimestamp;
    private TimeSpan _lastCpu;
    private long _lastAllocated;

    public RuntimeSampler(
        SampleRing ring,
        LeakWatchdog watchdog,
        LiveTraffic traffic,
        ClientConnections client,
        UpstreamConnections upstream,
        ConfigState config,
        IOptions<WatchdogOptions> options,
        TimeProvider time,
        ILogger<RuntimeSampler> logger)
    {
        _ring = ring;
        _watchdog = watchdog;
        _traffic = traffic;
        _client = client;
        _upstream = upstream;
        _config = config;
        _time = time;
        _logger = logger;
        _interval = options.Value.SampleInterval;
        _startTimestamp = time.GetTimestamp();
        _lastTimestamp = _startTimestamp;
        _lastCpu = Environment.CpuUsage.TotalTime;
        _lastAllocated = GC.GetTotalAllocatedBytes(precise: false);
    }

    public TimeSpan Interval => _interval;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _timer ??= _time.CreateTimer(static state => ((RuntimeSampler)state!).Tick(), this, _interval, _interval);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        _timer?.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        return Task.CompletedTask;
    }

    public void Dispose()
    {
        _timer?.Dispose();
        _memory.Dispose();
    }

    /// <summary>Takes one sample now (the timer's callback; tests call it directly).</summary>
    public void Tick()
    {
        if (Interlocked.Exchange(ref _busy, 1) == 1)
        {
            return;
        }

        try
        {
            Sample();
            _watchdog.Observe(_ring.Newest);
        }
        catch (Exception e)
        {
            // A sampler that throws must not take the timer down with it; the next tick tries again.
            LogFailed(_logger, e);
        }
        finally
        {
            Volatile.Write(ref _busy, 0);
        }
    }

    private void Sample()
    {
        var now = _time.GetTimestamp();
        var seconds = Math.Max(1e-3, _time.GetElapsedTime(_lastTimestamp, now).TotalSeconds);
        var cpu = Environment.CpuUsage.TotalTime;
        var allocated = GC.GetTotalAllocatedBytes(precise: false);
        var client = _client.Open;
        var upstream = _upstream.Open;
        _traffic.CopyLatency(_latencyNow);
        var r = _ring.BeginWrite();
        try
        {
            _ring.Seconds[r] = _time.GetElapsedTime(_startTimestamp, now).TotalSeconds;
            _ring.UnixMs[r] = _time.GetUtcNow().ToUnixTimeMilliseconds();
            _ring.Cpu[r] = (float)(100 * (cpu - _lastCpu).TotalSeconds / (seconds * Environment.ProcessorCount));
            _ring.Timers[r] = Timer.ActiveCount;
            _ring.Threads[r] = ThreadPool.ThreadCount;
            _ring.Queue[r] = ThreadPool.PendingWorkItemCount;
            _ring.GcHeap[r] = GC.GetTotalMemory(forceFullCollection: false);
            _ring.WorkingSet[r] = _memory.Bytes();
            _ring.AllocRate[r] = (float)((allocated - _lastAllocated) / seconds);
            _ring.CpuSeconds[r] = cpu.TotalSeconds;
            _ring.Allocated[r] = allocated;
            _ring.JitSeconds[r] = System.Runtime.JitInfo.GetCompilationTime(currentThread: false).TotalSeconds;
            _ring.ClientConnections[r] = client;
            _ring.UpstreamConnections[r] = upstream;
            _ring.Connections[r] = client + upstream;
            _ring.ConnectionsOpened[r] = _client.Opened + _upstream.Opened;
            _ring.Generation[r] = _config.Current.Generation;
            _ring.Completed[r] = _traffic.Completed;
            _ring.InFlight[r] = _traffic.InFlight;
            _ring.InFlightPeak[r] = _traffic.TakePeak();
            for (var c = 0; c < LiveTraffic.StatusClasses; c++)
            {
                var total = _traffic.CompletedInClass(c);
                _ring.Rps[(r * LiveTraffic.StatusClasses) + c] = (float)((total - _classBefore[c]) / seconds);
                _classBefore[c] = total;
            }

            WriteLatency(r);
        }
        finally
        {
            _ring.EndWrite();
        }

        _lastTimestamp = now;
        _lastCpu = cpu;
        _lastAllocated = allocated;
    }

    /// <summary>p50 and p99 of the requests completed since the previous sample, from the histogram's deltas.</summary>
    private void WriteLatency(int r)
    {
        long count = 0;
        for (var b = 0; b < LiveTraffic.LatencyBuckets; b++)
        {
            count += _latencyNow[b] - _latencyBefore[b];
        }

        float p50 = 0, p99 = 0;
        if (count > 0)
        {
            long seen = 0;
            var half = (count + 1) / 2;
            var ninetyNine = (long)Math.Ceiling(count * 0.99);
            var found50 = false;
            for (var b = 0; b < LiveTraffic.LatencyBuckets; b++)
            {
                seen += _latencyNow[b] - _latencyBefore[b];
                if (!found50 && seen >= half)
                {
                    p50 = (float)LiveTraffic.MidpointMilliseconds(b);
                    found50 = true;
                }

                if (seen >= ninetyNine)
                {
                    p99 = (float)LiveTraffic.MidpointMilliseconds(b);
                    break;
                }
            }
        }

        _ring.P50Ms[r] = p50;
        _ring.P99Ms[r] = p99;
        _latencyNow.CopyTo(_latencyBefore, 0);
    }

    [LoggerMessage(EventId = LogEvents.SamplerFailed, Level = LogLevel.Error, Message = "The runtime sampler failed; it tries again at the next tick")]
    private static partial void LogFailed(ILogger logger, Exception exception);
}
