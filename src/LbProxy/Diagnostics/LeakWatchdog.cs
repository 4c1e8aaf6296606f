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
    private static readonly double[] Scales = [40, 80, 160, 300];

    private readonly SampleRing _ring;
    private readonly IOptionsMonitor<WatchdogOptions> _options;
    private readonly TimeProvider _time;
    private readonly ILogger<LeakWatchdog> _logger;
    private readonly Watch[] _watches;
    private readonly double[] _ys, _es, _os, _gs, _xs;
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

        _ys = new double[ring.Capacity];
        _es = new double[ring.Capacity];
        _os = new double[ring.Capacity];
        _gs = new double[ring.Capacity];
        _xs = new double[ring.Capacity];
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
        for (var k = 0; k <= Scales.Length; k++)
        {
            var scale = k < Scales.Length ? Scales[k] : window;
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
            _ys[k] = w.Y[row];
            _es[k] = w.E[row];
            _os[k] = w.O[row];
            _gs[k] = _ring.Generation[row];
            _xs[k] = byRequests ? _ring.Completed[row] / 1000.0 : _ring.Seconds[row] / 60;
            sum += _ys[k];
        }

        if (!Fit(0, n, out var slope, out var t, out var baseline, out var envelopeSlope))
        {
            return false;
        }

        var rise = slope * (_xs[n - 1] - _xs[0]);
        var threshold = Math.Max(thresholds.MinRise, thresholds.RelativeRise * Math.Max(baseline, 0));
        var minSlope = byRequests ? thresholds.MinSlopePer1000Requests : thresholds.MinSlopePerMinute;
        var half = n / 2;
        double recentSlope = 0, recentT = 0;
        if (n - half < MinRecentSamples || !Fit(half, n - half, out recentSlope, out recentT, out _, out _))
        {
            recentSlope = 0;
            recentT = 0;
        }

        var recentRise = recentSlope * (_xs[n - 1] - _xs[half]);
        var met = t >= o.MinT && slope >= minSlope && rise >= threshold
            && recentT >= o.MinRecentT && recentSlope >= minSlope && recentRise >= threshold / 4;
        figures = new LeakFigures(
            byRequests ? LeakCriterion.Requests : LeakCriterion.Time, met, slope, t, rise, baseline, threshold,
            _ring.Seconds[lastRow] - _ring.Seconds[firstRow], requests, _ys[n - 1], _es[0], Math.Max(envelopeSlope, 0), sum / n,
            _es[n - 1], _ring.Generation[lastRow] - _ring.Generation[firstRow]);
        return true;
    }

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

    /// <summary>
    /// Least squares of y on an intercept and the columns E, O, G, X over rows [start, start + n) of the scratch
    /// arrays, centred; columns that do not vary are dropped. The slope and t of X, the fitted value at the first
    /// row (the baseline) and the coefficient of E. False when the design is singular or near-collinear (a
    /// variance inflation beyond 10^6: the data cannot tell load from a leak, so the model waits).
    /// </summary>
    private bool Fit(int start, int n, out double slope, out double t, out double baseline, out double envelopeSlope)
    {
        slope = t = baseline = envelopeSlope = 0;
        Span<int> keep = stackalloc int[4];
        Span<double> mean = stackalloc double[4];
        var q = 0;
        for (var c = 0; c < 4; c++)
        {
            var column = Column(c);
            double min = double.MaxValue, max = double.MinValue, total = 0;
            for (var k = start; k < start + n; k++)
            {
                min = Math.Min(min, column[k]);
                max = Math.Max(max, column[k]);
                total += column[k];
            }

            if (max - min > 1e-9)
            {
                keep[q] = c;
                mean[q] = total / n;
                q++;
            }
        }

        if (n <= q + 2)
        {
            return false;
        }

        var yMean = 0.0;
        for (var k = start; k < start + n; k++)
        {
            yMean += _ys[k];
        }

        yMean /= n;
        Span<double> xtx = stackalloc double[16];
        Span<double> xty = stackalloc double[4];
        Span<double> x = stackalloc double[4];
        for (var k = start; k < start + n; k++)
        {
            for (var a = 0; a < q; a++)
            {
                x[a] = Column(keep[a])[k] - mean[a];
            }

            var dy = _ys[k] - yMean;
            for (var a = 0; a < q; a++)
            {
                xty[a] += x[a] * dy;
                for (var b = 0; b < q; b++)
                {
                    xtx[(a * 4) + b] += x[a] * x[b];
                }
            }
        }

        Span<double> inverse = stackalloc double[16];
        if (!Invert(xtx, q, inverse))
        {
            return false;
        }

        Span<double> beta = stackalloc double[4];
        for (var a = 0; a < q; a++)
        {
            for (var b = 0; b < q; b++)
            {
                beta[a] += inverse[(a * 4) + b] * xty[b];
            }
        }

        var intercept = yMean;
        for (var a = 0; a < q; a++)
        {
            intercept -= beta[a] * mean[a];
        }

        var rss = 0.0;
        for (var k = start; k < start + n; k++)
        {
            var fitted = intercept;
            for (var a = 0; a < q; a++)
            {
                fitted += beta[a] * Column(keep[a])[k];
            }

            if (k == start)
            {
                baseline = fitted;
            }

            rss += (_ys[k] - fitted) * (_ys[k] - fitted);
        }

        var sigma2 = rss / (n - q - 1);
        for (var a = 0; a < q; a++)
        {
            if (keep[a] == 0)
            {
                envelopeSlope = beta[a];
            }
            else if (keep[a] == 3)
            {
                slope = beta[a];
                t = slope / Math.Sqrt(Math.Max(sigma2 * inverse[(a * 4) + a], 1e-18));
            }
        }

        return true;
    }

    private double[] Column(int c) => c switch
    {
        0 => _es,
        1 => _os,
        2 => _gs,
        _ => _xs,
    };

    /// <summary>Gauss-Jordan with partial pivoting of the q×q matrix m (row stride 4) into inverse.</summary>
    private static bool Invert(ReadOnlySpan<double> m, int q, Span<double> inverse)
    {
        Span<double> a = stackalloc double[32];
        var scale = 1.0;
        for (var i = 0; i < q; i++)
        {
            scale = Math.Max(scale, Math.Abs(m[(i * 4) + i]));
            for (var j = 0; j < q; j++)
            {
                a[(i * 8) + j] = m[(i * 4) + j];
                a[(i * 8) + q + j] = i == j ? 1 : 0;
            }
        }

        for (var c = 0; c < q; c++)
        {
            var pivot = c;
            for (var r = c + 1; r < q; r++)
            {
                if (Math.Abs(a[(r * 8) + c]) > Math.Abs(a[(pivot * 8) + c]))
                {
                    pivot = r;
                }
            }

            if (Math.Abs(a[(pivot * 8) + c]) < 1e-12 * scale)
            {
                return false;
            }

            if (pivot != c)
            {
                for (var j = 0; j < 2 * q; j++)
                {
                    (a[(c * 8) + j], a[(pivot * 8) + j]) = (a[(pivot * 8) + j], a[(c * 8) + j]);
                }
            }

            var d = a[(c * 8) + c];
            for (var j = 0; j < 2 * q; j++)
            {
                a[(c * 8) + j] /= d;
            }

            for (var r = 0; r < q; r++)
            {
                var f = a[(r * 8) + c];
                if (r == c || f == 0)
                {
                    continue;
                }

                for (var j = 0; j < 2 * q; j++)
                {
                    a[(r * 8) + j] -= f * a[(c * 8) + j];
                }
            }
        }

        for (var i = 0; i < q; i++)
        {
            for (var j = 0; j < q; j++)
            {
                inverse[(i * 4) + j] = a[(i * 8) + q + j];
            }

            if (inverse[(i * 4) + i] * m[(i * 4) + i] > 1e6)
            {
                return false;
            }
        }

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
