using System.Text.Json;
using System.Text.RegularExpressions;

namespace LbProxy.Tests.Infrastructure;

/// <summary>The Grafana dashboards of deploy/grafana/dashboards: their panels, queries and variables, and PromQL helpers.</summary>
internal static partial class Dashboards
{
    public static IReadOnlyList<(string Dashboard, JsonElement Root)> All { get; } =
        [.. DeployFiles.DashboardFiles.Select(static f => (Path.GetFileName(f), JsonDocument.Parse(File.ReadAllText(f)).RootElement))];

    /// <summary>Every panel query: where it is and its expression, as written.</summary>
    public static IEnumerable<(string Where, string Expr)> PanelQueries() =>
        from d in All
        from panel in Panels(d.Root)
        from target in panel.TryGetProperty("targets", out var targets) ? targets.EnumerateArray() : Enumerable.Empty<JsonElement>()
        select ($"{d.Dashboard} / {panel.GetProperty("title").GetString()} / {target.GetProperty("refId").GetString()}", target.GetProperty("expr").GetString()!);

    public static IEnumerable<(string Where, string Query)> VariableQueries() =>
        from d in All
        from v in d.Root.GetProperty("templating").GetProperty("list").EnumerateArray()
        where v.GetProperty("type").GetString() == "query"
        select ($"{d.Dashboard} variable {v.GetProperty("name").GetString()}", v.GetProperty("query").GetProperty("query").GetString()!);

    public static IEnumerable<(string Where, string Expr)> AnnotationQueries() =>
        from d in All
        from a in d.Root.GetProperty("annotations").GetProperty("list").EnumerateArray()
        where a.TryGetProperty("expr", out _)
        select ($"{d.Dashboard} annotation {a.GetProperty("name").GetString()}", a.GetProperty("expr").GetString()!);

    public static IEnumerable<JsonElement> Panels(JsonElement dashboard) =>
        dashboard.GetProperty("panels").EnumerateArray().Where(static p => p.GetProperty("type").GetString() != "row");

    /// <summary>
    /// Grafana's variables as a dashboard sends them for one job and one instance: values regex-escaped, the
    /// backslashes doubled inside the PromQL string; <c>$1</c> and <c>${1}</c> of label_replace left alone.
    /// </summary>
    public static string Substitute(string expr, string job, string instance)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["job"] = Escape(job),
            ["instance"] = Escape(instance),
            ["cluster"] = ".+",
            ["__rate_interval"] = "1m",
            ["__interval"] = "15s",
            ["__range"] = "5m",
        };
        return Variable().Replace(expr, m => values.TryGetValue(m.Groups[1].Success ? m.Groups[1].Value : m.Groups[2].Value, out var v) ? v : m.Value);

        static string Escape(string value) => Regex.Escape(value).Replace(@"\", @"\\", StringComparison.Ordinal);
    }

    /// <summary>The metric names an expression reads: what looks like one once strings, matchers and grouping clauses are gone.</summary>
    public static IReadOnlySet<string> MetricNames(string expr)
    {
        var e = StringLiteral().Replace(expr, "\"\"");
        e = Matchers().Replace(e, string.Empty);
        e = Grouping().Replace(e, string.Empty);
        return MetricName().Matches(e).Select(static m => m.Value).ToHashSet(StringComparer.Ordinal);
    }

    /// <summary>Each vector selector's matchers ("" for a bare name), for the job/instance convention.</summary>
    public static IReadOnlyList<string> SelectorMatchers(string expr)
    {
        var e = Grouping().Replace(StringLiteral().Replace(expr, static m => m.Value.Replace('{', '(').Replace('}', ')')), string.Empty);
        var result = new List<string>();
        foreach (Match m in MetricName().Matches(Matchers().Replace(e, static x => new string(' ', x.Length))))
        {
            var rest = e[(m.Index + m.Length)..].TrimStart();
            result.Add(rest.StartsWith('{') ? rest[1..rest.IndexOf('}', StringComparison.Ordinal)] : string.Empty);
        }

        return result;
    }

    [GeneratedRegex(@"\$\{(\w+)\}|\$(\w+)")]
    private static partial Regex Variable();

    [GeneratedRegex(@"""(?:[^""\\]|\\.)*""")]
    private static partial Regex StringLiteral();

    [GeneratedRegex(@"\{[^}]*\}")]
    private static partial Regex Matchers();

    [GeneratedRegex(@"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")]
    private static partial Regex Grouping();

    [GeneratedRegex(@"\b((dotnet|lbproxy|http|kestrel|aspnetcore|target)_[a-zA-Z0-9_]*|up)\b")]
    private static partial Regex MetricName();
}
