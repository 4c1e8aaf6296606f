using Microsoft.Extensions.Options;

namespace LbProxy.Diagnostics;

/// <summary>
/// The runtime sampler and the leak watchdog. Every value is live-reloadable except <see cref="SampleInterval"/>
/// and <see cref="Retention"/>, which size the sample ring at start. The defaults need no tuning: they were
/// chosen so that healthy steady traffic, bursts and reload storms raise nothing while a leak of one timer per
/// request is flagged in about 35 s.
/// </summary>
internal sealed class WatchdogOptions
{
    public const string SectionName = "LbProxy:Watchdog";

    /// <summary>Whether the watchdog judges the samples; the sampler and the live page run regardless.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Time between two samples (read at start).</summary>
    public TimeSpan SampleInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>How much history the ring keeps, for the watchdog and the live page (read at start).</summary>
    public TimeSpan Retention { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>After start (and JIT, pools and caches settling), nothing is judged for this long.</summary>
    public TimeSpan WarmUp { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The longest window the leak model is fitted over (shorter ones are tried first).</summary>
    public TimeSpan Window { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>The condition must hold this long, and the count still be rising, before a leak is declared.</summary>
    public TimeSpan HoldFor { get; set; } = TimeSpan.FromSeconds(20);

    /// <summary>The count must be back near its baseline this long before the suspicion is cleared.</summary>
    public TimeSpan ClearFor { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>With fewer requests in a window, growth is judged per minute instead of per 1,000 requests.</summary>
    public int MinRequests { get; set; } = 1000;

    /// <summary>t-statistic the unexplained slope must reach over a whole window.</summary>
    public double MinT { get; set; } = 5;

    /// <summary>t-statistic the slope must still reach over the window's recent half.</summary>
    public double MinRecentT { get; set; } = 3;

    /// <summary>Logs every window fitted for a cost per request (its slope, t, rise, threshold, verdict) each sample: for a diagnosis, off by default.</summary>
    public bool LogFits { get; set; }

    public ResourceThresholds Timers { get; set; } = new() { MinRise = 50, RelativeRise = 0.10, MinSlopePer1000Requests = 2, MinSlopePerMinute = 5 };

    public ResourceThresholds ThreadPoolThreads { get; set; } = new() { MinRise = 16, RelativeRise = 0.50, MinSlopePer1000Requests = 0.5, MinSlopePerMinute = 2 };

    public ResourceThresholds ThreadPoolQueue { get; set; } = new() { MinRise = 200, RelativeRise = 0, MinSlopePer1000Requests = 5, MinSlopePerMinute = 20 };

    public ResourceThresholds Connections { get; set; } = new() { MinRise = 100, RelativeRise = 0.25, MinSlopePer1000Requests = 2, MinSlopePerMinute = 10 };

    public ResourceThresholds WorkingSet { get; set; } = new() { MinRise = 64 << 20, RelativeRise = 0.25, MinSlopePer1000Requests = 256 << 10, MinSlopePerMinute = 8 << 20 };

    /// <summary>
    /// CPU microseconds per request (MinSlopePerMinute is not used: a cost is judged against requests only). A rise of half
    /// the baseline: on a machine shared with other work the level wanders (measured at 250 requests/s under a load average
    /// of 20-27: 462 to 774 µs over 70 s of a healthy run), and synthetic levels wandering by 10% were flagged with a tenth or a quarter.
    /// </summary>
    public ResourceThresholds CpuPerRequest { get; set; } = new() { MinRise = 50, RelativeRise = 0.5, MinSlopePer1000Requests = 5, MinSlopePerMinute = 0 };

    /// <summary>Bytes allocated per request.</summary>
    public ResourceThresholds AllocPerRequest { get; set; } = new() { MinRise = 16 << 10, RelativeRise = 0.25, MinSlopePer1000Requests = 1 << 10, MinSlopePerMinute = 0 };

    public ResourceThresholds For(WatchedResource resource) => resource switch
    {
        WatchedResource.CpuPerRequest => CpuPerRequest,
        WatchedResource.AllocPerRequest => AllocPerRequest,
        WatchedResource.Timers => Timers,
        WatchedResource.ThreadPoolThreads => ThreadPoolThreads,
        WatchedResource.ThreadPoolQueue => ThreadPoolQueue,
        WatchedResource.Connections => Connections,
        _ => WorkingSet,
    };
}

/// <summary>How much unexplained growth of one resource makes it a suspect.</summary>
internal sealed class ResourceThresholds
{
    /// <summary>The unexplained rise over a window (in the resource's unit) must reach this ...</summary>
    public double MinRise { get; set; }

    /// <summary>... or this share of the baseline, whichever is larger.</summary>
    public double RelativeRise { get; set; }

    /// <summary>Growth per 1,000 requests below which nothing is suspected (request model).</summary>
    public double MinSlopePer1000Requests { get; set; }

    /// <summary>Growth per minute below which nothing is suspected (time model, at low traffic).</summary>
    public double MinSlopePerMinute { get; set; }
}

internal sealed class WatchdogOptionsValidator : IValidateOptions<WatchdogOptions>
{
    public ValidateOptionsResult Validate(string? name, WatchdogOptions options)
    {
        var failures = new List<string>();
        Check(failures, options.SampleInterval >= TimeSpan.FromSeconds(1) && options.SampleInterval <= TimeSpan.FromSeconds(30),
            nameof(WatchdogOptions.SampleInterval), "must be from 00:00:01 to 00:00:30");
        Check(failures, options.Retention >= TimeSpan.FromMinutes(1) && options.Retention <= TimeSpan.FromHours(2)
            && options.Retention >= options.Window, nameof(WatchdogOptions.Retention), "must be from 1 min to 2 h, and no shorter than Window");
        Check(failures, options.WarmUp >= TimeSpan.Zero && options.WarmUp <= TimeSpan.FromMinutes(30), nameof(WatchdogOptions.WarmUp), "must be from 0 to 30 min");
        Check(failures, options.Window >= TimeSpan.FromSeconds(20) && options.Window <= TimeSpan.FromHours(1), nameof(WatchdogOptions.Window), "must be from 20 s to 1 h");
        Check(failures, options.HoldFor >= TimeSpan.Zero && options.HoldFor < options.Window, nameof(WatchdogOptions.HoldFor), "must be from 0 to less than Window");
        Check(failures, options.ClearFor >= TimeSpan.Zero && options.ClearFor <= TimeSpan.FromMinutes(30), nameof(WatchdogOptions.ClearFor), "must be from 0 to 30 min");
        Check(failures, options.MinRequests is >= 1 and <= 10_000_000, nameof(WatchdogOptions.MinRequests), "must be from 1 to 10000000");
        Check(failures, options.MinT is >= 2 and <= 50, nameof(WatchdogOptions.MinT), "must be from 2 to 50");
        Check(failures, options.MinRecentT is >= 1 and <= 50, nameof(WatchdogOptions.MinRecentT), "must be from 1 to 50");
        foreach (var resource in Enum.GetValues<WatchedResource>())
        {
            var t = options.For(resource);
            var key = resource.ToString();
            Check(failures, t.MinRise > 0, key, "MinRise must be greater than 0");
            Check(failures, t.RelativeRise is >= 0 and <= 100, key, "RelativeRise must be from 0 to 100");
            Check(failures, t.MinSlopePer1000Requests >= 0 && t.MinSlopePerMinute >= 0, key, "MinSlopePer1000Requests and MinSlopePerMinute must not be negative");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private static void Check(List<string> failures, bool ok, string member, string message)
    {
        if (!ok)
        {
            failures.Add($"{member}: {message}");
        }
    }
}
