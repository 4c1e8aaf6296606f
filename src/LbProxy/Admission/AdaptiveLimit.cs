namespace LbProxy.Admission;

/// <summary>
/// One destination's concurrency limit that follows its latency, after Netflix's Gradient2
/// (concurrency-limits): a long-term RTT (an average over about <see cref="LongWindows"/> windows) against the
/// short-term RTT of the last window (at least <see cref="MinWindowSamples"/> samples and
/// <see cref="MinWindow"/>). The gradient <c>clamp(Tolerance × long / short, 0.5, 1)</c> is 1 while the origin
/// answers as usual and below 1 once it answers more slowly than <see cref="Tolerance"/> times its usual; the new
/// limit is <c>limit × gradient</c> below 1, else <c>limit + √limit</c> (headroom that probes upwards), smoothed
/// (a fifth of the way per window: at a gradient of 0.5 the limit loses a tenth per window, half in 7 windows).
/// A window with an error (5xx, a failed forward) counts as a gradient of 0.5: an origin that fails gets fewer
/// requests too. When long is more than twice short (the origin recovered) long decays towards short, so the limit
/// comes back at once. When a fall has halved the limit and the latency did not come down with it (at least
/// <see cref="RelearnShare"/> of where the fall began), the latency is not a queue the limit controls: long is set to
/// short, and the limit grows back. The limit grows only while the destination is using at least half of it (else
/// the latency says nothing about more). Bounds: [1, ceiling]. Called under its cluster's lock: not thread-safe on
/// its own.
/// </summary>
internal sealed class AdaptiveLimit
{
    public const double Tolerance = 1.5;
    public const int LongWindows = 100;
    public const int MinWindowSamples = 10;
    public const double Smoothing = 0.2;
    public static readonly TimeSpan MinWindow = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// A fall that halved the limit while the short RTT stayed above this share of where the fall began re-learns the
    /// long RTT: the latency is not one the limit controls.
    /// </summary>
    public const double RelearnShare = 0.8;

    // An EWMA over N windows: alpha = 2 / (N + 1), the usual span convention.
    private const double LongAlpha = 2.0 / (LongWindows + 1);

    private readonly TimeProvider _time;
    private double _limit;
    private double _longRtt;
    private long _windowStart;
    private int _samples;
    private double _rttSum;
    private bool _error;
    private int _maxInFlight;
    private double _fallFromLimit;
    private double _fallFromRtt;

    public AdaptiveLimit(int ceiling, TimeProvider time)
    {
        _time = time;
        Ceiling = ceiling;
        _limit = ceiling;
        _windowStart = time.GetTimestamp();
    }

    /// <summary>MaxPerDestination: the limit never goes above it; a reload that lowers it lowers the limit at once.</summary>
    public int Ceiling { get; private set; }

    /// <summary>The current limit, a whole number of requests.</summary>
    public int Limit => Math.Clamp((int)_limit, 1, Ceiling);

    /// <summary>The long-term RTT in seconds, 0 before the first window.</summary>
    public double LongRtt => _longRtt;

    public void SetCeiling(int ceiling)
    {
        Ceiling = ceiling;
        _limit = Math.Min(_limit, ceiling);
    }

    /// <summary>One completed request: its time holding the slot, whether it failed, and the destination's in-flight count when it started.</summary>
    public void Record(TimeSpan rtt, bool error, int inFlight)
    {
        _samples++;
        _rttSum += rtt.TotalSeconds;
        _error |= error;
        _maxInFlight = Math.Max(_maxInFlight, inFlight);
        var now = _time.GetTimestamp();
        if (_samples < MinWindowSamples || _time.GetElapsedTime(_windowStart, now) < MinWindow)
        {
            return;
        }

        Update(_rttSum / _samples, _error, _maxInFlight);
        _windowStart = now;
        _samples = 0;
        _rttSum = 0;
        _error = false;
        _maxInFlight = 0;
    }

    private void Update(double shortRtt, bool error, int inFlight)
    {
        if (_longRtt <= 0)
        {
            _longRtt = shortRtt;
        }
        else
        {
            _longRtt += LongAlpha * (shortRtt - _longRtt);
        }

        if (_longRtt > 2 * shortRtt)
        {
            // Recovered: forget the slow past faster than the average would.
            _longRtt = Math.Max(shortRtt, _longRtt * 0.9);
        }

        var gradient = error ? 0.5 : Math.Clamp(Tolerance * _longRtt / Math.Max(shortRtt, 1e-6), 0.5, 1.0);
        if (gradient < 1 && !error)
        {
            if (_fallFromLimit <= 0)
            {
                _fallFromLimit = _limit;
                _fallFromRtt = shortRtt;
            }
            else if (_limit <= Math.Max(1, _fallFromLimit / 2) && shortRtt >= RelearnShare * _fallFromRtt)
            {
                // The limit has halved and the latency did not follow: it is not a queue of ours (a worker-pool origin
                // that slowed answers as slowly at 1 in flight as at 4, or this process is short of CPU). The new pace
                // is the usual one from now, and the limit grows back. Measured without this: the limit of an origin
                // slowed to a quarter stayed at 1 of its 4 workers for the rest of the run, three of them idle.
                _longRtt = shortRtt;
                _fallFromLimit = 0;
                gradient = 1;
            }
        }
        else
        {
            _fallFromLimit = 0;
        }
        if (gradient >= 1 && inFlight < _limit / 2)
        {
            return; // the destination is not using its limit: its latency says nothing about more
        }

        // Growth probes with √limit of headroom; a decrease takes none, or a failing origin would keep a floor of 4
        // (the fixed point of limit/2 + √limit) instead of going down to 1.
        var target = gradient >= 1 ? _limit + Math.Sqrt(_limit) : _limit * gradient;
        var next = (_limit * (1 - Smoothing)) + (target * Smoothing);
        _limit = Math.Clamp(next, 1, Ceiling);
    }
}
