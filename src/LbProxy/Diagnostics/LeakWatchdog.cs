using System.Diagnostics.Metrics;
using LbProxy.Metrics;
using Microsoft.Extensions.Options;

namespace LbProxy.Diagnostics;

/// <summary>
/// Tells a leak from load. A count that tracks the work in flight (timers of requests in progress, threads under a
/// burst, connections being opened) is normal; one that keeps rising with the requests served, or with time at
/// low traffic, or does not come back when traffic stops, is a leak. For each resource and each new sample, the
/// count is regressed by least squares (<see cref="LeastSquares"/>) on the load envelope (peak in-flight over the
/// resource's lag), the connections opened over the lag, the config generation and cumulative requests (or minutes
/// at low traffic), over windows of 40, 80, 160 and 300 s ending now; the slope on requests is what load does not
/// explain. A window counts when that slope is significant (t), large enough (per 1,000 requests, and in total
/// against the baseline) and still so over the window's recent half. The condition must hold for <c>HoldFor</c>
/// with the count still rising; then the resource is a suspect until it is back near its baseline for
/// <c>ClearFor</c> (<see cref="LeakSuspicion"/>). Fed by the sampler's tick, on its thread; no allocation per
/// sample except when a suspicion is declared. This file feeds the parts; the windows are judged in
/// LeakWatchdog.Evaluate.cs.
/// </summary>
internal sealed partial class LeakWatchdog
{
    public const string SuspectName = "lbproxy.watchdog.suspect";
    public const string CulpritName = "lbproxy.watchdog.culprit.info";

    /// <summary>The owners named per suspect resource: in the warning, the status and <c>lbproxy_watchdog_culprit_info</c>.</summary>
    public const int Culprits = 3;

    private readonly SampleRing _ring;
    private readonly IOptionsMonitor<WatchdogOptions> _options;
    private readonly ILogger<LeakWatchdog> _logger;
    private readonly Watch[] _watches;
    private readonly KeyValuePair<string, object?>[][] _tags;

    // One window of the series, unwrapped from the ring, for the fit: allocated once, reused for every window.
    private readonly double[] _windowCounts;
    private readonly double[] _windowInFlight;
    private readonly double[] _windowConnectionsOpened;
    private readonly double[] _windowReloads;
    private readonly double[] _windowProgress;

    // All zeros: stands for the load envelope and the connections opened in a cost's early fit, which leaves them out.
    private readonly double[] _windowNone;
    private double _startSeconds = double.NaN;
    private volatile bool _warmingUp = true;

    public LeakWatchdog(SampleRing ring, IOptionsMonitor<WatchdogOptions> options, IMeterFactory meterFactory, TimeProvider time, ILogger<LeakWatchdog> logger)
    {
        _ring = ring;
        _options = options;
        _logger = logger;
        _watches = new Watch[WatchedResources.Count];
        _tags = new KeyValuePair<string, object?>[WatchedResources.Count][];
        for (var index = 0; index < WatchedResources.Count; index++)
        {
            _watches[index] = new Watch((WatchedResource)index, ring.Capacity, time);
            _tags[index] = [new(MetricTags.Resource, WatchedResources.Name((WatchedResource)index))];
        }

        _windowCounts = new double[ring.Capacity];
        _windowInFlight = new double[ring.Capacity];
        _windowConnectionsOpened = new double[ring.Capacity];
        _windowReloads = new double[ring.Capacity];
        _windowProgress = new double[ring.Capacity];
        _windowNone = new double[ring.Capacity];
        meterFactory.Create(LbProxyMeter.Name).CreateObservableGauge(
            SuspectName,
            ObserveSuspects,
            unit: null,
            description: "1 while the leak watchdog suspects the resource (timers, threadpool_threads, threadpool_queue, connections, working_set) of leaking, or a cost per request (cpu_per_request, alloc_per_request) of rising with requests served, else 0.");
        meterFactory.Create(LbProxyMeter.Name).CreateObservableGauge(
            "lbproxy.request.cpu",
            () => Cost(WatchedResource.CpuPerRequest) / 1e6,
            unit: "s",
            description: "CPU time per proxied request over the last 10 s (JIT compiling excluded), as the watchdog fits it: compare builds with lbproxy_build_info.");
        meterFactory.Create(LbProxyMeter.Name).CreateObservableGauge(
            "lbproxy.request.allocated",
            () => Cost(WatchedResource.AllocPerRequest),
            unit: "By",
            description: "Bytes allocated per proxied request over the last 10 s, as the watchdog fits it.");
        meterFactory.Create(LbProxyMeter.Name).CreateObservableGauge(
            CulpritName,
            ObserveCulprits,
            unit: null,
            description: "1 for each owner (code that created them) whose timers or queued work items grew since the baseline census, while the resource is a suspect; at most 3 per resource.");
    }

    public bool WarmingUp => _warmingUp;

    public bool IsSuspect(WatchedResource resource) => _watches[(int)resource].Suspicion.Suspect;

    /// <summary>Judges the sample <paramref name="seq"/>, the ring's newest. Call once per sample, in order.</summary>
    public void Observe(long seq)
    {
        var options = _options.CurrentValue;
        var now = _ring.Seconds[_ring.Row(seq)];
        if (double.IsNaN(_startSeconds))
        {
            _startSeconds = now;
        }

        _warmingUp = now - _startSeconds < options.WarmUp.TotalSeconds;
        foreach (var watch in _watches)
        {
            Derive(watch, seq);
            if (watch.Census && watch.CensusBaseline is null)
            {
                // At start-up: a few hundred timers at most, a millisecond. Whatever leaks from the first request grows from here.
                watch.CensusBaseline = TakeCensus(watch.Resource);
            }
        }

        foreach (var watch in _watches)
        {
            if (!options.Enabled)
            {
                watch.Suspicion.Reset(now);
                continue;
            }

            Step(watch, seq, options);
        }
    }

    public WatchdogStatus Status()
    {
        var options = _options.CurrentValue;
        var newest = _ring.Newest;
        var resources = new WatchdogResourceStatus[WatchedResources.Count];
        foreach (var watch in _watches)
        {
            var current = newest > 0 ? watch.Count[_ring.Row(newest)] : 0;
            var suspicion = watch.Suspicion;
            resources[(int)watch.Resource] = suspicion.Episode is { } episode && suspicion.Suspect
                ? new WatchdogResourceStatus(
                    watch.Name, "suspect", Criterion(episode.Figures.Criterion), Reason(episode.Figures.Criterion), current, episode.Figures.Baseline,
                    episode.Figures.Rise,
                    episode.Figures.Criterion == LeakCriterion.Requests ? episode.Figures.Slope : null,
                    episode.Figures.Criterion == LeakCriterion.Time ? episode.Figures.Slope : null,
                    episode.Figures.T, episode.Figures.WindowSeconds, episode.Figures.Requests, episode.Since, suspicion.Episodes, watch.Culprits)
                : new WatchdogResourceStatus(
                    watch.Name, suspicion.Pending ? "pending" : "ok", null, null, current, null, null, null, null, null, null, null, null, suspicion.Episodes);
        }

        return new WatchdogStatus(options.Enabled, _warmingUp, resources);
    }

    private static string Criterion(LeakCriterion criterion) => criterion switch
    {
        LeakCriterion.Requests => "requests",
        LeakCriterion.Time => "time",
        _ => "idle",
    };

    private static string Reason(LeakCriterion criterion) => criterion switch
    {
        LeakCriterion.Requests => "rises with requests served, beyond what in-flight work explains",
        LeakCriterion.Time => "keeps rising at low traffic",
        _ => "does not come back to its idle level without traffic",
    };

    /// <summary>The newest cost per request (µs or bytes), 0 before the first sample with traffic.</summary>
    private double Cost(WatchedResource resource)
    {
        var newest = _ring.Newest;
        return newest > 0 ? _watches[(int)resource].Count[_ring.Row(newest)] : 0;
    }

    /// <summary>The census of the resource's owners, all of them (bounded by the census), or null where it is not available.</summary>
    private static IReadOnlyList<CensusEntry>? TakeCensus(WatchedResource resource)
    {
        if (resource == WatchedResource.Timers)
        {
            var timers = RuntimeCensus.TakeTimers(RuntimeCensus.MaxOwners);
            return timers.Available ? timers.Owners : null;
        }

        var queue = RuntimeCensus.TakeQueue(RuntimeCensus.MaxOwners);
        return queue.Available ? queue.Owners : null;
    }

    /// <summary>The owners that grew since the baseline, most first: taken on the sampler's thread when a suspicion is declared.</summary>
    private static IReadOnlyList<CensusGrowth>? NameCulprits(Watch watch) =>
        watch.CensusBaseline is { } baseline && TakeCensus(watch.Resource) is { } now ? RuntimeCensus.Growth(baseline, now, Culprits) : null;

    private Measurement<int>[] ObserveCulprits()
    {
        var measurements = new List<Measurement<int>>();
        foreach (var watch in _watches)
        {
            if (watch.Suspicion.Suspect && watch.Culprits is { } culprits)
            {
                foreach (var culprit in culprits)
                {
                    measurements.Add(new Measurement<int>(1, new KeyValuePair<string, object?>(MetricTags.Resource, watch.Name), new KeyValuePair<string, object?>(MetricTags.Owner, culprit.Owner)));
                }
            }
        }

        return [.. measurements];
    }

    private Measurement<int>[] ObserveSuspects()
    {
        var measurements = new Measurement<int>[WatchedResources.Count];
        for (var index = 0; index < measurements.Length; index++)
        {
            measurements[index] = new Measurement<int>(_watches[index].Suspicion.Suspect ? 1 : 0, _tags[index]);
        }

        return measurements;
    }

    /// <summary>
    /// One resource, one sample: the windows under load, the idle level, then the state machine with whichever
    /// condition was met (under load first), and the log line of what it did.
    /// </summary>
    private void Step(Watch watch, long seq, WatchdogOptions options)
    {
        var row = _ring.Row(seq);
        var now = _ring.Seconds[row];
        var thresholds = options.For(watch.Resource);
        var underLoad = Evaluate(watch, seq, options, thresholds, out var loadFigures);
        if (underLoad && watch.IdleReference is null && watch.IdleCheck)
        {
            // Never idle yet: until it is, the level under the first load stands in for the idle one (an upper bound of it).
            watch.IdleReference = loadFigures.LoadLevel;
            watch.IdleGeneration = _ring.Generation[row];
        }

        var idle = EvaluateIdle(watch, seq, options, thresholds, out var idleFigures);
        LeakFigures? hit = underLoad && loadFigures.Met ? loadFigures
            : idle && idleFigures.Met ? idleFigures
            : null;
        var progress = hit is { Criterion: LeakCriterion.Requests } ? _ring.Completed[row] / 1000.0 : now / 60;
        var reading = new LeakReading(now, watch.Count[row], watch.InFlight[row], RecentMean(watch, seq), progress);
        // A hold is whole samples: samples come every SampleInterval give or take the sampler's jitter, and one that
        // came a few milliseconds early must not cost a whole interval (a steep hold of 4 s took 6 s: 3.98 < 4).
        var holdFor = hit is { Overwhelming: true } ? TimeSpan.Zero
            : (hit is { Steep: true } ? options.HoldFor / SteepHoldDivisor : options.HoldFor) - (options.SampleInterval / 2);
        switch (watch.Suspicion.Advance(reading, hit, holdFor, options.ClearFor))
        {
            case LeakTransition.Declared:
                watch.Culprits = watch.Census ? NameCulprits(watch) : null;
                LogSuspected(watch.Name, watch.Suspicion.Episode!.Figures, watch.Culprits);
                break;
            case LeakTransition.Cleared:
                LogCleared(_logger, watch.Name, reading.Count, watch.Suspicion.Episode!.Figures.Baseline);
                watch.Culprits = null;
                if (watch.Census)
                {
                    watch.CensusBaseline = TakeCensus(watch.Resource);
                }

                break;
            default:
                break;
        }
    }
}
