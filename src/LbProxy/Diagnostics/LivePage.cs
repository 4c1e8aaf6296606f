using System.Collections.Frozen;
using System.Text.Json;
using LbProxy.Metrics;

namespace LbProxy.Diagnostics;

/// <summary>
/// What the live page needs from this stage: its assets (HTML, CSS, JavaScript and icon, embedded in the assembly
/// and read once) and the ring's rows after a sequence number as JSON columns. Its endpoints are
/// <see cref="LivePageEndpoints"/>; who may use them is the control plane's rule.
/// </summary>
internal sealed class LivePage
{
    private static readonly (string Name, string ContentType)[] EmbeddedAssets =
    [
        ("index.html", "text/html; charset=utf-8"),
        ("app.js", "text/javascript; charset=utf-8"),
        ("app.css", "text/css; charset=utf-8"),
        ("favicon.svg", "image/svg+xml"),
    ];

    private readonly SampleRing _ring;
    private readonly RuntimeSampler _sampler;
    private readonly LeakWatchdog _watchdog;

    public LivePage(SampleRing ring, RuntimeSampler sampler, LeakWatchdog watchdog)
    {
        _ring = ring;
        _sampler = sampler;
        _watchdog = watchdog;
        var assembly = typeof(LivePage).Assembly;
        var assets = new Dictionary<string, LivePageAsset>(StringComparer.Ordinal);
        foreach (var (name, contentType) in EmbeddedAssets)
        {
            using var stream = assembly.GetManifestResourceStream("ui/" + name)
                ?? throw new InvalidOperationException($"the live page's asset ui/{name} is not embedded in the assembly");
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            assets[name] = new LivePageAsset(copy.ToArray(), contentType);
        }

        Assets = assets.ToFrozenDictionary(StringComparer.Ordinal);
    }

    /// <summary>The embedded assets by file name.</summary>
    public FrozenDictionary<string, LivePageAsset> Assets { get; }

    public WatchdogStatus Watchdog => _watchdog.Status();

    /// <summary>The newest sample's figures, for <c>/_lb/runtime</c>; null before the first sample.</summary>
    public LatestSample? Latest()
    {
        using var scope = _ring.Read();
        var newest = _ring.Newest;
        if (newest == 0)
        {
            return null;
        }

        var r = _ring.Row(newest);
        var rps = 0.0;
        for (var c = 0; c < LiveTraffic.StatusClasses; c++)
        {
            rps += _ring.Rps[(r * LiveTraffic.StatusClasses) + c];
        }

        return new LatestSample(
            DateTimeOffset.FromUnixTimeMilliseconds(_ring.UnixMs[r]), _ring.Cpu[r], rps, _ring.P50Ms[r], _ring.P99Ms[r], _ring.InFlight[r],
            _ring.ClientConnections[r], _ring.UpstreamConnections[r], _ring.WorkingSet[r], _ring.AllocRate[r]);
    }

    /// <summary>
    /// Writes <c>"seq"</c>, <c>"intervalSeconds"</c> and <c>"samples"</c> (the rows after <paramref name="since"/>, as
    /// columns) into the open object of <paramref name="writer"/>. When <paramref name="since"/> is not a row this ring
    /// can continue from (too old, or from before a restart), every row is written with <c>"reset": true</c>.
    /// </summary>
    public void WriteSamples(Utf8JsonWriter writer, long since)
    {
        using var scope = _ring.Read();
        var newest = _ring.Newest;
        var oldest = _ring.Oldest;
        var reset = since < oldest - 1 || since > newest;
        var first = reset ? oldest : since + 1;
        if (newest == 0)
        {
            first = 1;
        }

        writer.WriteNumber("seq", newest);
        writer.WriteNumber("intervalSeconds", _sampler.Interval.TotalSeconds);
        writer.WriteStartObject("samples");
        writer.WriteBoolean("reset", reset);
        writer.WriteNumber("capacity", _ring.Capacity);
        Column(writer, "t", first, newest, _ring.UnixMs);
        writer.WriteStartObject("columns");
        Column(writer, "cpu", first, newest, _ring.Cpu);
        Column(writer, "timers", first, newest, _ring.Timers);
        Column(writer, "threads", first, newest, _ring.Threads);
        Column(writer, "queue", first, newest, _ring.Queue);
        for (var c = 2; c <= 5; c++)
        {
            writer.WriteStartArray($"rps{c}xx");
            for (var s = first; s <= newest; s++)
            {
                writer.WriteNumberValue(Math.Round(_ring.Rps[(_ring.Row(s) * LiveTraffic.StatusClasses) + c], 2));
            }

            writer.WriteEndArray();
        }

        Column(writer, "p50", first, newest, _ring.P50Ms);
        Column(writer, "p99", first, newest, _ring.P99Ms);
        Column(writer, "inflight", first, newest, _ring.InFlight);
        Column(writer, "workingSet", first, newest, _ring.WorkingSet);
        Column(writer, "gcHeap", first, newest, _ring.GcHeap);
        Column(writer, "allocRate", first, newest, _ring.AllocRate);
        Column(writer, "clientConnections", first, newest, _ring.ClientConnections);
        Column(writer, "upstreamConnections", first, newest, _ring.UpstreamConnections);
        writer.WriteEndObject();
        writer.WriteEndObject();
    }

    private void Column(Utf8JsonWriter writer, string name, long first, long last, long[] column)
    {
        writer.WriteStartArray(name);
        for (var s = first; s <= last; s++)
        {
            writer.WriteNumberValue(column[_ring.Row(s)]);
        }

        writer.WriteEndArray();
    }

    private void Column(Utf8JsonWriter writer, string name, long first, long last, int[] column)
    {
        writer.WriteStartArray(name);
        for (var s = first; s <= last; s++)
        {
            writer.WriteNumberValue(column[_ring.Row(s)]);
        }

        writer.WriteEndArray();
    }

    private void Column(Utf8JsonWriter writer, string name, long first, long last, float[] column)
    {
        writer.WriteStartArray(name);
        for (var s = first; s <= last; s++)
        {
            writer.WriteNumberValue(Math.Round(column[_ring.Row(s)], 3));
        }

        writer.WriteEndArray();
    }
}

/// <summary>One embedded asset of the live page.</summary>
internal sealed record LivePageAsset(byte[] Content, string ContentType);

/// <summary>The newest sample, as <c>/_lb/runtime</c> shows it.</summary>
internal sealed record LatestSample(
    DateTimeOffset At,
    double CpuPercent,
    double RequestsPerSecond,
    double P50Ms,
    double P99Ms,
    int InFlight,
    long ClientConnections,
    long UpstreamConnections,
    long WorkingSetBytes,
    double AllocatedBytesPerSecond);
