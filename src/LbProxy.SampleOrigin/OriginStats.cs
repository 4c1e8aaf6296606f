using System.Text.Json.Serialization;

namespace LbProxy.SampleOrigin;

/// <summary>
/// What the origin counts of its image requests, for tests and the bench: requests being served right now (from
/// arrival, waiting for a worker included, to the end of the response), the highest that ever was, and requests by
/// the format class served, and the answers with a 5xx status (an overrun origin's). <c>GET /_origin/stats</c> shows
/// it, <c>DELETE /_origin/stats</c> resets it.
/// </summary>
public sealed class OriginStats
{
    private long _inFlight;
    private long _maxInFlight;
    private long _avif;
    private long _webp;
    private long _original;
    private long _serverErrors;

    public long InFlight => Interlocked.Read(ref _inFlight);

    public long MaxInFlight => Interlocked.Read(ref _maxInFlight);

    /// <summary>Requests answered with a 5xx (one that threw counts as Kestrel's 500), control calls and probes apart.</summary>
    public long ServerErrors => Interlocked.Read(ref _serverErrors);

    public long RequestsOf(string formatClass) => formatClass switch
    {
        ImageFormats.Avif => Interlocked.Read(ref _avif),
        ImageFormats.Webp => Interlocked.Read(ref _webp),
        _ => Interlocked.Read(ref _original),
    };

    public OriginStatsDocument Snapshot() => new(InFlight, MaxInFlight, new OriginClassCounts(
        RequestsOf(ImageFormats.Avif), RequestsOf(ImageFormats.Webp), RequestsOf(ImageFormats.Original)), ServerErrors);

    /// <summary>Zeroes the counts; the highest concurrency starts again from what is in flight now.</summary>
    public void Reset()
    {
        Interlocked.Exchange(ref _avif, 0);
        Interlocked.Exchange(ref _webp, 0);
        Interlocked.Exchange(ref _original, 0);
        Interlocked.Exchange(ref _serverErrors, 0);
        Interlocked.Exchange(ref _maxInFlight, Interlocked.Read(ref _inFlight));
    }

    internal void Enter(string formatClass)
    {
        _ = formatClass switch
        {
            ImageFormats.Avif => Interlocked.Increment(ref _avif),
            ImageFormats.Webp => Interlocked.Increment(ref _webp),
            _ => Interlocked.Increment(ref _original),
        };
        var now = Interlocked.Increment(ref _inFlight);
        for (var max = Interlocked.Read(ref _maxInFlight); now > max; max = Interlocked.Read(ref _maxInFlight))
        {
            if (Interlocked.CompareExchange(ref _maxInFlight, now, max) == max)
            {
                break;
            }
        }
    }

    internal void Leave() => Interlocked.Decrement(ref _inFlight);

    internal void ServerError() => Interlocked.Increment(ref _serverErrors);
}

/// <summary>The JSON of <c>GET /_origin/stats</c>: <c>{"inFlight":n,"maxInFlight":n,"requests":{"avif":n,"webp":n,"original":n},"serverErrors":n}</c>.</summary>
public sealed record OriginStatsDocument(long InFlight, long MaxInFlight, OriginClassCounts Requests, long ServerErrors);

/// <summary>Image requests served, by format class.</summary>
public sealed record OriginClassCounts(long Avif, long Webp, long Original);

[JsonSerializable(typeof(OriginStatsDocument))]
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
internal sealed partial class OriginStatsJsonContext : JsonSerializerContext;
