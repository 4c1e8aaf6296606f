namespace LbProxy.Tests.Infrastructure;

/// <summary>One line of a Prometheus exposition: a series and its value.</summary>
internal sealed record MetricSample(string Name, IReadOnlyDictionary<string, string> Labels, double Value)
{
    /// <summary>Name and labels, without the value: what makes two samples the same series.</summary>
    public string SeriesKey => Name + "{" + string.Join(",", Labels.OrderBy(l => l.Key, StringComparer.Ordinal).Select(l => $"{l.Key}=\"{l.Value}\"")) + "}";

    public override string ToString() => $"{SeriesKey} {Value}";
}
