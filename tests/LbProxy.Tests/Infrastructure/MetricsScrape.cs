using System.Globalization;
using System.Net;

namespace LbProxy.Tests.Infrastructure;

/// <summary>
/// One scrape of <c>/metrics</c>, parsed from the Prometheus text format: the families' <c># TYPE</c> lines and
/// every sample with its labels. Enough parsing to ask "what is this series' value", not a full exposition parser.
/// </summary>
internal sealed class MetricsScrape
{
    private MetricsScrape(string text, Dictionary<string, string> types, List<MetricSample> samples)
    {
        Text = text;
        Types = types;
        Samples = samples;
    }

    public string Text { get; }

    /// <summary>Family name → its declared type (counter, gauge, histogram, ...).</summary>
    public IReadOnlyDictionary<string, string> Types { get; }

    public IReadOnlyList<MetricSample> Samples { get; }

    public static async Task<MetricsScrape> TakeAsync(HttpClient client, string path = "/metrics")
    {
        using var response = await client.GetAsync(path);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/plain", response.Content.Headers.ContentType?.MediaType);
        return Parse(await response.Content.ReadAsStringAsync());
    }

    public static MetricsScrape Parse(string text)
    {
        var types = new Dictionary<string, string>();
        var samples = new List<MetricSample>();
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.TrimEnd('\r');
            if (line.StartsWith("# TYPE ", StringComparison.Ordinal))
            {
                var parts = line.Split(' ');
                types[parts[2]] = parts[3];
            }
            else if (line.Length > 0 && line[0] != '#')
            {
                samples.Add(ParseSample(line));
            }
        }

        return new MetricsScrape(text, types, samples);
    }

    /// <summary>The samples of one metric name whose labels include every given label.</summary>
    public IEnumerable<MetricSample> Where(string name, params (string Label, string Value)[] labels) =>
        Samples.Where(s => s.Name == name && labels.All(l => s.Labels.TryGetValue(l.Label, out var v) && v == l.Value));

    /// <summary>The sum of the matching samples; 0 when there is none (a counter not yet incremented).</summary>
    public double Sum(string name, params (string Label, string Value)[] labels) => Where(name, labels).Sum(s => s.Value);

    /// <summary>The value of the one matching sample.</summary>
    public double Single(string name, params (string Label, string Value)[] labels)
    {
        var matches = Where(name, labels).ToList();
        Assert.True(matches.Count == 1, $"expected one {name} sample with {string.Join(",", labels)}, found {matches.Count}:\n{string.Join("\n", matches)}");
        return matches[0].Value;
    }

    private static MetricSample ParseSample(string line)
    {
        var labels = new Dictionary<string, string>();
        var brace = line.IndexOf('{', StringComparison.Ordinal);
        var space = line.LastIndexOf(' ');
        string name;
        if (brace >= 0 && brace < space)
        {
            name = line[..brace];
            var i = brace + 1;
            while (line[i] != '}')
            {
                var eq = line.IndexOf('=', i);
                var label = line[i..eq];
                var value = new System.Text.StringBuilder();
                var j = eq + 2; // past ="
                for (; line[j] != '"'; j++)
                {
                    if (line[j] == '\\')
                    {
                        j++;
                        value.Append(line[j] == 'n' ? '\n' : line[j]);
                    }
                    else
                    {
                        value.Append(line[j]);
                    }
                }

                labels[label] = value.ToString();
                i = j + 1;
                if (line[i] == ',')
                {
                    i++;
                }
            }

            space = line.IndexOf(' ', i);
        }
        else
        {
            name = line[..line.IndexOf(' ', StringComparison.Ordinal)];
            space = name.Length;
        }

        // A sample may carry a timestamp after its value.
        var valueText = line[(space + 1)..].Split(' ')[0];
        var parsed = valueText switch
        {
            "+Inf" => double.PositiveInfinity,
            "-Inf" => double.NegativeInfinity,
            "NaN" => double.NaN,
            _ => double.Parse(valueText, CultureInfo.InvariantCulture),
        };
        return new MetricSample(name, labels, parsed);
    }
}
