using LbProxy.Diagnostics;

namespace LbProxy.Tests.Diagnostics;

/// <summary>
/// A process as the sampler sees it, one sample every 2 s, without a process: a seeded model of what traffic does
/// to timers, threads, connections and memory (a timer per request in flight, threads that follow bursts and
/// retire late, a gen0 sawtooth, keep-alive connections), with knobs for the leaks the watchdog must see. Feeds
/// a real <see cref="SampleRing"/> and <see cref="LeakWatchdog"/>.
/// </summary>
internal sealed class SyntheticProcess(int seed)
{
    public const double Interval = 2;

    private readonly Random _random = new(seed);
    private readonly Random _costNoise = new(seed + 1000); // its own stream: the other series stay as they were
    private readonly Random _wanderNoise = new(seed + 2000);
    private double _wander;
    private double _now;
    private long _completed;
    private long _opened;
    private double _leakedTimers;
    private double _extraThreads;
    private long _generation = 1;
    private double _sawtooth;
    private double _cpuSeconds;
    private long _allocated;

    public double Now => _now;

    public long Completed => _completed;

    /// <summary>Timers left behind per request (1 = the story's bug, 0.01 = one per 100 requests).</summary>
    public double TimersLeakedPerRequest { get; set; }

    /// <summary>
    /// CPU microseconds per request once warm (±5% noise); the first 20 s cost up to 40% more (JIT, tier-up), falling
    /// off as a healthy start's does.
    /// </summary>
    public double CpuMicrosPerRequest { get; set; } = 1000;

    /// <summary>The start-up transient: how much more the first requests cost (0.4: 40%), falling off linearly over <see cref="CpuStartUpSeconds"/>.</summary>
    public double CpuStartUpExcess { get; set; } = 0.4;

    public double CpuStartUpSeconds { get; set; } = 20;

    /// <summary>
    /// A healthy rise at start that levels off (tier-up through instrumented code, the GC starting): the cost rises by
    /// this share of <see cref="CpuMicrosPerRequest"/> over <see cref="CpuTierUpSeconds"/>, then stays.
    /// </summary>
    public double CpuTierUpRise { get; set; }

    public double CpuTierUpSeconds { get; set; } = 25;

    /// <summary>
    /// A busy machine: the cost wanders slowly (a random walk pulled back to the level, time constant about 20 s) with
    /// this standard deviation relative to the level, as other processes come and go.
    /// </summary>
    public double CpuWander { get; set; }

    /// <summary>CPU microseconds each request adds to every later one (a handler per request on a static event).</summary>
    public double CpuLeakMicrosPer1000Requests { get; set; }

    /// <summary>Steady requests per second.</summary>
    public double Rps { get; set; } = 200;

    /// <summary>Requests in flight on top of what the rate makes (a burst of slow requests).</summary>
    public int ExtraInFlight { get; set; }

    /// <summary>Ends the leak and frees what it held, as a fixed build after a restart of the leaking part would.</summary>
    public void FreeLeak() => _leakedTimers = 0;

    public void Reload() => _generation++;

    private double Gaussian() => Math.Sqrt(-2 * Math.Log(1 - _wanderNoise.NextDouble())) * Math.Cos(2 * Math.PI * _wanderNoise.NextDouble());

    /// <summary>Writes the next sample into <paramref name="ring"/> and lets <paramref name="watchdog"/> judge it.</summary>
    public void Step(SampleRing ring, LeakWatchdog watchdog)
    {
        _now += Interval;
        var requests = (long)Math.Round(Rps * Interval * (0.95 + (0.1 * _random.NextDouble())));
        _completed += requests;
        _leakedTimers += requests * TimersLeakedPerRequest;
        var inFlight = (int)Math.Round((Rps * 0.004) + _random.Next(0, 3)) + ExtraInFlight;
        var peak = inFlight + _random.Next(0, 4);
        // A burst brings threads that retire slowly, some of them not while traffic goes on.
        _extraThreads = ExtraInFlight > 0 ? Math.Max(_extraThreads, 40) : _extraThreads > 20 ? _extraThreads * 0.97 : _extraThreads;

        var clientConnections = 8 + (ExtraInFlight > 0 ? ExtraInFlight : 0);
        _opened += ExtraInFlight > 0 ? ExtraInFlight / 4 : _random.Next(0, 2);
        var startUp = _now < CpuStartUpSeconds ? 1 + (CpuStartUpExcess * (CpuStartUpSeconds - _now) / CpuStartUpSeconds) : 1;
        var tierUp = 1 + (CpuTierUpRise * Math.Min(1, _now / CpuTierUpSeconds));
        if (CpuWander > 0)
        {
            // AR(1) with a coefficient of 0.9 per 2 s: stationary deviation CpuWander.
            _wander = (0.9 * _wander) + (CpuWander * Math.Sqrt(1 - (0.9 * 0.9)) * Gaussian());
        }

        var cost = (CpuMicrosPerRequest * startUp * tierUp * Math.Max(0.2, 1 + _wander) * (0.95 + (0.1 * _costNoise.NextDouble())))
            + (CpuLeakMicrosPer1000Requests * _completed / 1000);
        _cpuSeconds += requests * cost / 1e6;
        _allocated += requests * (4096 + _costNoise.Next(0, 256));
        _sawtooth = _sawtooth > 48 ? 0 : _sawtooth + (Rps * Interval / 100);

        var r = ring.BeginWrite();
        try
        {
            ring.Seconds[r] = _now;
            ring.UnixMs[r] = (long)(_now * 1000);
            ring.Completed[r] = _completed;
            ring.Generation[r] = _generation;
            ring.Timers[r] = 30 + _random.Next(-2, 3) + inFlight + (2 * (_generation - 1) % 6) + (long)_leakedTimers;
            ring.Threads[r] = 6 + _random.Next(0, 2) + (long)_extraThreads;
            ring.Queue[r] = _random.Next(0, 3) + (ExtraInFlight / 20);
            ring.Connections[r] = clientConnections + 4;
            ring.ConnectionsOpened[r] = _opened;
            ring.WorkingSet[r] = (long)((90 + _sawtooth + (_random.NextDouble() * 4)) * (1 << 20)) + (long)(_leakedTimers * 400);
            ring.CpuSeconds[r] = _cpuSeconds;
            ring.Allocated[r] = _allocated;
            ring.InFlight[r] = inFlight;
            ring.InFlightPeak[r] = peak;
        }
        finally
        {
            ring.EndWrite();
        }

        watchdog.Observe(ring.Newest);
    }
}
