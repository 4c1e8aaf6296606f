using System.Diagnostics.Metrics;
using LbProxy.Metrics;
using Microsoft.Extensions.Options;

namespace LbProxy.Diagnostics;

/// <summary>
/// Tells a leak from load. A count that tracks the work in flight (timers of requests in progress, threads under a
/// burst, connections being opened) is normal; one that keeps rising with the requests served, or with time at
/// low traffic, or does not come back when traffic stops, is a leak. For each resource and each new sample, the
/// count is regressed by least squares on the load envelope (peak in-flight over the resource's lag), the
/// connections opened over the lag, the config generation and cumulative requests (or minutes at low traffic),
/// over windows of 40, 80, 160 and 300 s ending now; the slope on requests is what load does not explain. A window
/// counts when that slope is significant (t), large enough (per 1,000 requests, and in total against the baseline)
/// and still so over the window's recent half. The condition must hold for <c>HoldFor</c> with the count still
/// rising; then the resource is a suspect until it is back near its baseline for <c>ClearFor</c>. Fed by the
/// sampler's tick, on its thread; no allocation per sample except when a suspicion is declared.
/// </summary>
internal sealed partial class LeakWatchdog
{
    public const string SuspectName = "lbproxy.watchdog.suspect";
    private const int MinSamples = 8;
    private const int MinRecentSamples = 5;
    private static readonly double[] _scales = [40, 80, 160, 300];

    private readonly SampleRing _ring;
    private readonly IOptionsMonitor<WatchdogOptions> _options;
    private readonly TimeProvider _time;
    private readonly ILogger<LeakWatchdog> _logger;
    private readonly Watch[] _watches;

    // One window of the series, unwrapped from the ring, for the fit: allocated once, reused for every window.
    private readonly double[] _windowCounts;
    private readonly double[] _windowInFlight;
    private readonly double[] _windowConnectionsOpened;
    private readonly double[] _windowReloads;
    private readonly double[] _windowProgress;
    private readonly KeyValuePair<string, object?>[][] _tags;
    private double _startSeconds = double.NaN;
    private volatile bool _warmingUp = true;

    public LeakWatchdog(SampleRing ring, IOptionsMonitor<WatchdogOptions> options, IMeterFactory meterFactory, TimeProvider time, ILogger<LeakWatchdog> logger)
    {
        _ring = ring;
        _options = options;
        _time = time;
        _logger = logger;
        _watches = new Watch[WatchedResources.Count];
        _tags = new KeyValuePair<string, object?>[WatchedResources.Count][];
        for (var r = 0; r < WatchedResources.Count; r++)
        {
            _watches[r] = new Watch((WatchedResource)r, ring.Capacity);
            _tags[r] = [new(MetricTags.Resource, WatchedResources.Name((WatchedResource)r))];
        }

        _windowCounts = new double[ring.Capacity];
        _windowInFlight = new double[ring.Capacity];
        _windowConnectionsOpened = new double[ring.Capacity];
        _windowReloads = new double[ring.Capacity];
        _windowProgress = new double[ring.Capacity];
        meterFactory.Create(LbProxyMeter.Name).CreateObservableGauge(
            SuspectName,
            Observe,
            unit: null,
            description: "1 while the leak watchdog suspects the resource (timers, threadpool_threads, threadpool_queue, connections, working_set) of leaking, else 0.");
    }

    public bool WarmingUp => _warmingUp;

    public bool IsSuspect(WatchedResource resource) => _watches[(int)resource].Suspect;

    /// <summary>Judges the sample <paramref name="seq"/>, the ring's newest. Call once per sample, in order.</summary>
    public void Observe(long seq)
    {
        var o = _options.CurrentValue;
        var row = _ring.Row(seq);
        var now = _ring.Seconds[row];
        if (double.IsNaN(_startSeconds))
        {
            _startSeconds = now;
        }

        _warmingUp = now - _startSeconds < o.WarmUp.TotalSeconds;
        foreach (var w in _watches)
        {
            Derive(w, seq);
        }

        foreach (var w in _watches)
        {
            if (!o.Enabled)
            {
                w.Reset(now);
                continue;
            }

            Step(w, seq, o);
        }
    }

    public WatchdogStatus Status()
    {
        var o = _options.CurrentValue;
        var newest = _ring.Newest;
        var resources = new WatchdogResourceStatus[WatchedResources.Count];
        foreach (var w in _watches)
        {
            var current = newest > 0 ? w.Y[_ring.Row(newest)] : 0;
            var episode = w.Episode;
            resources[(int)w.Resource] = episode is { } e && w.Suspect
                ? new WatchdogResourceStatus(
                    w.Name, "suspect", Criterion(e.Figures.Criterion), Reason(e.Figures.Criterion), current, e.Figures.Baseline,
                    e.Figures.Rise,
                    e.Figures.Criterion == LeakCriterion.Requests ? e.Figures.Slope : null,
                    e.Figures.Criterion == LeakCriterion.Time ? e.Figures.Slope : null,
                    e.Figures.T, e.Figures.WindowSeconds, e.Figures.Requests, e.Since, w.Episodes)
                : new WatchdogResourceStatus(
                    w.Name, w.Pending ? "pending" : "ok", null, null, current, null, null, null, null, null, null, null, null, w.Episodes);
        }

        return new WatchdogStatus(o.Enabled, _warmingUp, resources);
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

    private Measurement<int>[] Observe()
    {
        var measurements = new Measurement<int>[WatchedResources.Count];
        for (var r = 0; r < measurements.Length; r++)
        {
            measurements[r] = new Measurement<int>(_watches[r].Suspect ? 1 : 0, _tags[r]);
        }

        return measurements;
    }

    private long Raw(WatchedResource resource, int row) => resource switch
    {
        WatchedResource.Timers => _ring.Timers[row],
        WatchedResource.ThreadPoolThreads => _ring.Threads[row],
        WatchedResource.ThreadPoolQueue => _ring.Queue[row],
        WatchedResource.Connections => _ring.Connections[row],
        _ => _ring.WorkingSet[row],
    };

    /// <summary>The first sequence number, not before the ring's oldest, whose sample is at or after <paramref name="since"/>.</summary>
    private long FirstAtOrAfter(long seq, double since)
    {
        var oldest = _ring.Oldest;
        var first = seq;
        while (first > oldest && _ring.Seconds[_ring.Row(first - 1)] >= since)
        {
            first--;
        }

        return first;
    }

    private int PeakInFlight(long seq, double lag)
    {
        var since = _ring.Seconds[_ring.Row(seq)] - lag;
        var peak = 0;
        for (var s = FirstAtOrAfter(seq, since); s <= seq; s++)
        {
            peak = Math.Max(peak, _ring.InFlightPeak[_ring.Row(s)]);
        }

        return peak;
    }

    /// <summary>The series the model fits, for the new sample: the count (floored), the load envelope, the connections opened.</summary>
    private void Derive(Watch w, long seq)
    {
        var row = _ring.Row(seq);
        var now = _ring.Seconds[row];
        double y = Raw(w.Resource, row);
        if (w.Floor > 0)
        {
            for (var s = FirstAtOrAfter(seq, now - w.Floor); s < seq; s++)
            {
                y = Math.Min(y, Raw(w.Resource, _ring.Row(s)));
            }
        }

        w.Y[row] = y;
        w.E[row] = PeakInFlight(seq, w.Lag + w.Floor);
        if (w.Resource == WatchedResource.Connections)
        {
            var first = FirstAtOrAfter(seq, now - w.Lag);
            var before = Math.Max(_ring.Oldest, first - 1);
            w.O[row] = _ring.ConnectionsOpened[row] - _ring.ConnectionsOpened[_ring.Row(before)];
        }
    }

    private void Step(Watch w, long seq, WatchdogOptions o)
    {
        var row = _ring.Row(seq);
        var now = _ring.Seconds[row];
        var thresholds = o.For(w.Resource);
        var found = Evaluate(w, seq, o, thresholds, out var a);
        if (found && w.IdleReference is null && w.IdleCheck)
        {
            // Never idle yet: until it is, the level under the first load stands in for the idle one (an upper bound of it).
            w.IdleReference = a.LoadLevel;
            w.IdleGeneration = _ring.Generation[row];
        }

        var idle = EvaluateIdle(w, seq, o, thresholds, out var b);
        LeakFigures hit = default;
        var isHit = false;
        if (found && a.Met)
        {
            hit = a;
            isHit = true;
        }
        else if (idle && b.Met)
        {
            hit = b;
            isHit = true;
        }

        if (!w.Suspect)
        {
            if (!isHit)
            {
                w.PendingSince = double.NaN;
                return;
            }

            var x = hit.Criterion == LeakCriterion.Requests ? _ring.Completed[row] / 1000.0 : now / 60;
            if (double.IsNaN(w.PendingSince))
            {
                w.PendingSince = now;
                w.PendingLevel = RecentMean(w, seq);
                w.PendingX = x;
            }

            var expected = hit.Criterion == LeakCriterion.Idle ? 0 : hit.Slope * Math.Max(0, x - w.PendingX);
            var risen = RecentMean(w, seq) - w.PendingLevel;
            var stillRising = hit.Criterion == LeakCriterion.Idle || risen >= Math.Max(hit.Threshold / 4, 0.5 * expected);
            if (now - w.PendingSince >= o.HoldFor.TotalSeconds && stillRising)
            {
                w.Declare(new LeakEpisode(hit, _time.GetUtcNow()));
                LogSuspected(w, hit);
            }

            return;
        }

        var episode = w.Episode!.Figures;
        var allowance = episode.EnvelopeSlope * Math.Max(0, w.E[row] - episode.BaseEnvelope);
        if (w.Y[row] - episode.Baseline - allowance <= episode.Threshold / 2)
        {
            if (double.IsNaN(w.ClearingSince))
            {
                w.ClearingSince = now;
            }

            if (now - w.ClearingSince >= o.ClearFor.TotalSeconds)
            {
                w.Clear(now);
                LogCleared(_logger, w.Name, w.Y[row], episode.Baseline);
            }
        }
        else
        {
            w.ClearingSince = double.NaN;
        }
    }

    private double RecentMean(Watch w, long seq)
    {
        var first = Math.Max(_ring.Oldest, seq - 2);
        var sum = 0.0;
        for (var s = first; s <= seq; s++)
        {
            sum += w.Y[_ring.Row(s)];
        }

        return sum / (seq - first + 1);
    }

    /// <summary>The windows ending now, shortest first: the first that meets every condition wins, else the one with the best t.</summary>
    private bool Evaluate(Watch w, long seq, WatchdogOptions o, ResourceThresholds thresholds, out LeakFigures best)
    {
        best = default;
        var found = false;
        var now = _ring.Seconds[_ring.Row(seq)];
        var earliest = Math.Max(_startSeconds + o.WarmUp.TotalSeconds, w.RestartAt);
        var window = o.Window.TotalSeconds;
        var lastTried = long.MinValue;
        for (var k = 0; k <= _scales.Length; k++)
        {
            var scale = k < _scales.Length ? _scales[k] : window;
            if (scale > window)
            {
                continue;
            }

            var first = FirstAtOrAfter(seq, Math.Max(now - scale, earliest));
            if (_ring.Seconds[_ring.Row(first)] < earliest || seq - first + 1 < MinSamples || first == lastTried)
            {
                continue;
            }

            lastTried = first;
            if (!EvaluateWindow(w, first, seq, o, thresholds, out var figures))
            {
                continue;
            }

            if (figures.Met)
            {
                best = figures;
                return true;
            }

            if (!found || figures.T > best.T)
            {
                best = figures;
                found = true;
            }
        }

        return found;
    }

    private bool EvaluateWindow(Watch w, long first, long last, WatchdogOptions o, ResourceThresholds thresholds, out LeakFigures figures)
    {
        figures = default;
        var n = (int)(last - first + 1);
        var firstRow = _ring.Row(first);
        var lastRow = _ring.Row(last);
        var requests = _ring.Completed[lastRow] - _ring.Completed[firstRow];
        var byRequests = requests >= o.MinRequests;
        var sum = 0.0;
        for (var k = 0; k < n; k++)
        {
            var row = _ring.Row(first + k);
            _windowCounts[k] = w.Y[row];
            _windowInFlight[k] = w.E[row];
            _windowConnectionsOpened[k] = w.O[row];
            _windowReloads[k] = _ring.Generation[row];
            _windowProgress[k] = byRequests ? _ring.Completed[row] / 1000.0 : _ring.Seconds[row] / 60;
            sum += _windowCounts[k];
        }

        if (!Fit(0, n, out var whole))
        {
            return false;
        }

        var slope = whole.ProgressSlope;
        var rise = slope * (_windowProgress[n - 1] - _windowProgress[0]);
        var threshold = Math.Max(thresholds.MinRise, thresholds.RelativeRise * Math.Max(whole.Baseline, 0));
        var minSlope = byRequests ? thresholds.MinSlopePer1000Requests : thresholds.MinSlopePerMinute;
        var half = n / 2;
        if (n - half < MinRecentSamples || !Fit(half, n - half, out var recent))
        {
            recent = default;
        }

        var recentRise = recent.ProgressSlope * (_windowProgress[n - 1] - _windowProgress[half]);
        var met = whole.ProgressT >= o.MinT && slope >= minSlope && rise >= threshold
            && recent.ProgressT >= o.MinRecentT && recent.ProgressSlope >= minSlope && recentRise >= threshold / 4;
        figures = new LeakFigures(
            byRequests ? LeakCriterion.Requests : LeakCriterion.Time, met, slope, whole.ProgressT, rise, whole.Baseline, threshold,
            _ring.Seconds[lastRow] - _ring.Seconds[firstRow], requests, _windowCounts[n - 1], _windowInFlight[0], Math.Max(whole.InFlightSlope, 0), sum / n,
            _windowInFlight[n - 1], _ring.Generation[lastRow] - _ring.Generation[firstRow]);
        return true;
    }

    /// <summary>The fit over rows [<paramref name="start"/>, <paramref name="start"/> + <paramref name="rows"/>) of the window's series.</summary>
    private bool Fit(int start, int rows, out LeastSquaresFit fit) => LeastSquares.TryFit(
        _windowCounts.AsSpan(start, rows),
        _windowInFlight.AsSpan(start, rows),
        _windowConnectionsOpened.AsSpan(start, rows),
        _windowReloads.AsSpan(start, rows),
        _windowProgress.AsSpan(start, rows),
        out fit);

    /// <summary>"Does not come back when traffic stops": nothing in flight and nothing completed for the resource's lag, yet above the idle level.</summary>
    private bool EvaluateIdle(Watch w, long seq, WatchdogOptions o, ResourceThresholds thresholds, out LeakFigures figures)
    {
        figures = default;
        if (!w.IdleCheck)
        {
            return false;
        }

        var row = _ring.Row(seq);
        var now = _ring.Seconds[row];
        if (now - _startSeconds < w.Lag)
        {
            return false;
        }

        var first = FirstAtOrAfter(seq, now - w.Lag);
        if (PeakInFlight(seq, w.Lag) != 0 || _ring.Completed[_ring.Row(first)] != _ring.Completed[row])
        {
            return false;
        }

        var y = w.Y[row];
        var generation = _ring.Generation[row];
        if (w.IdleReference is not { } reference || w.IdleGeneration != generation)
        {
            // The first idle level, start-up included, learnt again after a reload (new clusters, new probes).
            w.IdleReference = y;
            w.IdleGeneration = generation;
            return false;
        }

        if (now - _startSeconds < o.WarmUp.TotalSeconds)
        {
            w.IdleReference = Math.Min(reference, y);
            return false;
        }

        var threshold = Math.Max(thresholds.MinRise, thresholds.RelativeRise * reference);
        var met = y - reference >= threshold;
        if (!met && !w.Suspect)
        {
            w.IdleReference = Math.Min(reference, y);
        }

        figures = new LeakFigures(LeakCriterion.Idle, met, 0, 0, y - reference, reference, threshold, now - _ring.Seconds[_ring.Row(first)],
            0, y, 0, 0, y, 0, 0);
        return true;
    }

    private void LogSuspected(Watch w, LeakFigures f)
    {
        switch (f.Criterion)
        {
            case LeakCriterion.Requests:
                LogSuspectedByRequests(_logger, w.Name, f.Current, f.Baseline, f.Rise, f.WindowSeconds, f.Requests, f.Slope, f.T, f.InFlightPeak, f.Reloads);
                break;
            case LeakCriterion.Time:
                LogSuspectedByTime(_logger, w.Name, f.Current, f.Baseline, f.Rise, f.WindowSeconds, f.Slope, f.T);
                break;
            default:
                LogSuspectedIdle(_logger, w.Name, f.Current, f.Baseline, f.WindowSeconds);
                break;
        }
    }
}
