using System.Globalization;

namespace LbProxy.SampleOrigin;

/// <summary>
/// The origin as an image converter with a fixed pool of workers: at most <see cref="Workers"/> image requests are
/// served at once, the rest wait in the origin's own queue (as a real converter's would), and each holds its worker
/// for the service time of its format class. From the command line:
/// <c>--workers 4 --service-ms avif=40,webp=12,original=3</c>. The service time is a <c>Task.Delay</c>: it models
/// a worker pool, not CPU, so that tests and the bench can overload an origin without burning the machine.
/// </summary>
public sealed record ConverterSettings(int Workers, IReadOnlyDictionary<string, int> ServiceMs)
{
    /// <summary>No worker limit and no service time: the origin answers at once, as it always did.</summary>
    public static readonly ConverterSettings None = new(0, new Dictionary<string, int>());

    public bool Enabled => Workers > 0;

    /// <summary>The service time of a format class, 0 when none was given.</summary>
    public int ServiceMsOf(string formatClass) => ServiceMs.TryGetValue(formatClass, out var ms) ? ms : 0;

    /// <summary>
    /// Parses <c>--workers</c> and <c>--service-ms</c> (<c>class=ms</c> pairs, comma-separated); throws
    /// <see cref="FormatException"/> naming the bad value.
    /// </summary>
    public static ConverterSettings Parse(string? workers, string? serviceMs)
    {
        if (workers is null && serviceMs is null)
        {
            return None;
        }

        var count = 0;
        if (workers is not null && (!int.TryParse(workers, NumberStyles.None, CultureInfo.InvariantCulture, out count) || count < 1))
        {
            throw new FormatException($"--workers must be a whole number of at least 1, not '{workers}'");
        }

        var times = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var pair in (serviceMs ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var equals = pair.IndexOf('=', StringComparison.Ordinal);
            var name = equals < 0 ? "" : pair[..equals].Trim().ToLowerInvariant();
            if (name is not (ImageFormats.Avif or ImageFormats.Webp or ImageFormats.Original)
                || !int.TryParse(pair[(equals + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var ms))
            {
                throw new FormatException($"--service-ms takes avif=MS,webp=MS,original=MS, not '{pair}'");
            }

            times[name] = ms;
        }

        // Service times without a worker count: one worker per processor, as a converter sized to its machine.
        return new ConverterSettings(count > 0 ? count : Environment.ProcessorCount, times);
    }
}
