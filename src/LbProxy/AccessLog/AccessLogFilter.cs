using LbProxy.Edge;

namespace LbProxy.AccessLog;

/// <summary>
/// Which lines to skip, decided from the request's canonical path (<see cref="PathNormalizer"/>), status and
/// duration alone. Built once from the options and replaced whole when they change, never per request. The
/// rules apply in this order, and the first that matches names the skip: path prefix, status class, minimum
/// duration, sampling of successful requests.
/// </summary>
internal sealed class AccessLogFilter
{
    private readonly string[] _skipPrefixes;
    private readonly bool[] _skipStatusClass = new bool[6];
    private readonly TimeSpan _minDuration;
    private readonly long _samplePerMillion;
    private long _successes;

    public AccessLogFilter(IEnumerable<string> skipPrefixes, IEnumerable<int> skipStatusClasses, TimeSpan minDuration, double successSamplePercent)
    {
        var prefixes = new List<string>();
        foreach (var prefix in skipPrefixes)
        {
            var canonical = PathNormalizer.Normalize(prefix);
            if (!prefixes.Contains(canonical, StringComparer.OrdinalIgnoreCase))
            {
                prefixes.Add(canonical);
            }
        }

        _skipPrefixes = [.. prefixes];
        foreach (var statusClass in skipStatusClasses)
        {
            _skipStatusClass[statusClass] = true;
        }

        _minDuration = minDuration;
        _samplePerMillion = (long)Math.Round(Math.Clamp(successSamplePercent, 0, 100) * 10_000);
    }

    public IReadOnlyList<string> SkipPrefixes => _skipPrefixes;

    /// <summary>
    /// Written, or the rule that skips the line. Sampling is deterministic: at 25 %, exactly one success in
    /// four is written, spread evenly, so a sampled log still shows a steady stream.
    /// </summary>
    public AccessLogOutcome Evaluate(string canonicalPath, int statusCode, TimeSpan duration)
    {
        foreach (var prefix in _skipPrefixes)
        {
            if (PathNormalizer.IsUnder(canonicalPath, prefix))
            {
                return AccessLogOutcome.SkippedPath;
            }
        }

        var statusClass = statusCode / 100;
        if (statusClass is >= 1 and <= 5 && _skipStatusClass[statusClass])
        {
            return AccessLogOutcome.SkippedStatus;
        }

        if (duration < _minDuration)
        {
            return AccessLogOutcome.SkippedDuration;
        }

        if (statusCode < 400 && _samplePerMillion < 1_000_000)
        {
            // The n-th success is written when n * rate crosses a new whole million.
            var n = Interlocked.Increment(ref _successes);
            if ((n * _samplePerMillion) / 1_000_000 == ((n - 1) * _samplePerMillion) / 1_000_000)
            {
                return AccessLogOutcome.SkippedSample;
            }
        }

        return AccessLogOutcome.Written;
    }
}
