using System.Text.RegularExpressions;
using LbProxy.Tests.Infrastructure;

namespace LbProxy.Tests.Deploy;

/// <summary>
/// The dashboards and alert rules against a real Prometheus scraping a real LbProxy (<see cref="LivePrometheusFixture"/>):
/// every panel query, with Grafana's variables substituted, parses and returns data; every variable has values;
/// every annotation and alert expression parses; the rules load and evaluate with health ok; every metric they name
/// exists on the proxy's live /metrics.
/// </summary>
public sealed partial class LivePrometheusTests(LivePrometheusFixture live) : IClassFixture<LivePrometheusFixture>
{
    private const string Job = "lbproxy";

    /// <summary>
    /// Prometheus' own series, not on /metrics; and lbproxy_watchdog_culprit_info, which exists only while the watchdog
    /// suspects a leak and has named its owners (its panel reads 0 from lbproxy_watchdog_suspect until then): a real
    /// leak shows it in Functional/WatchdogCulpritTests.
    /// </summary>
    private static readonly HashSet<string> NotExported = new(StringComparer.Ordinal) { "up", "lbproxy_watchdog_culprit_info" };

    [Fact]
    public async Task PanelQueries_EachParsesAndReturnsData()
    {
        var queries = Dashboards.PanelQueries().ToList();
        var failures = new List<string>();
        foreach (var (where, expr) in queries)
        {
            var (status, series, error) = await live.QueryAsync(Dashboards.Substitute(expr, Job, live.Instance));
            if (status != "success" || series == 0)
            {
                failures.Add($"{where}: {(error ?? "no data")}\n    {expr}");
            }
        }

        Assert.True(queries.Count > 30, $"only {queries.Count} panel queries found");
        Assert.True(failures.Count == 0, $"{failures.Count} of {queries.Count} panel queries failed:\n" + string.Join("\n", failures));
    }

    [Fact]
    public async Task VariableQueries_EachHasValues_AndInstanceIsTheProxy()
    {
        foreach (var (where, query) in Dashboards.VariableQueries())
        {
            var m = LabelValues().Match(Dashboards.Substitute(query, Job, live.Instance));
            Assert.True(m.Success, $"{where}: not a label_values() query: {query}");

            var values = await live.LabelValuesAsync(m.Groups[2].Value, m.Groups[1].Value);

            Assert.True(values.Count > 0, $"{where}: no values for {query}");
            if (m.Groups[2].Value == "instance")
            {
                Assert.Equal([live.Instance], values);
            }
        }
    }

    [Fact]
    public async Task AnnotationQueries_EachParses()
    {
        var annotations = Dashboards.AnnotationQueries().ToList();

        Assert.NotEmpty(annotations);
        foreach (var (where, expr) in annotations)
        {
            var (status, _, error) = await live.QueryAsync(Dashboards.Substitute(expr, Job, live.Instance));
            Assert.True(status == "success", $"{where}: {error}");
        }
    }

    [Fact]
    public async Task Rules_EveryRuleFileLoadsAndEvaluatesWithHealthOk()
    {
        var rules = await live.RulesAsync();

        Assert.Equal(AlertRules.All.Select(static r => r.Name).Order(StringComparer.Ordinal), rules.Select(static r => r.GetProperty("name").GetString()!).Order(StringComparer.Ordinal));
        foreach (var rule in rules)
        {
            var name = rule.GetProperty("name").GetString();
            Assert.True(rule.GetProperty("health").GetString() == "ok", $"{name}: {rule.GetProperty("health")} {(rule.TryGetProperty("lastError", out var e) ? e : default)}");
            var (status, _, error) = await live.QueryAsync(rule.GetProperty("query").GetString()!);
            Assert.True(status == "success", $"{name}: {error}");
        }
    }

    [Fact]
    public async Task Alerts_NoneFiresOnAHealthyProxy()
    {
        // The traffic above is healthy: an alert firing now would page someone for nothing. (Pending is allowed: a
        // busy test machine may queue a work item at a scrape, and such a rule's "for" is what keeps it quiet.)
        var rules = await live.RulesAsync();

        Assert.All(rules, static r => Assert.True(r.GetProperty("state").GetString() != "firing", $"{r.GetProperty("name")} is firing"));
    }

    [Fact]
    public async Task Dashboards_EveryMetricTheyName_ExistsOnTheLiveMetrics()
    {
        var used = Dashboards.PanelQueries().Concat(Dashboards.VariableQueries()).Concat(Dashboards.AnnotationQueries())
            .SelectMany(static q => Dashboards.MetricNames(q.Item2).Select(name => (q.Where, name)));

        await AssertExportedAsync(used, "dashboards");
    }

    [Fact]
    public async Task Rules_EveryMetricTheyName_ExistsOnTheLiveMetrics()
    {
        var used = (await live.RulesAsync())
            .SelectMany(static r => Dashboards.MetricNames(r.GetProperty("query").GetString()!).Select(name => ($"alert {r.GetProperty("name").GetString()}", name)));

        await AssertExportedAsync(used, "alert rules");
    }

    private async Task AssertExportedAsync(IEnumerable<(string Where, string Name)> used, string what)
    {
        var scrape = await MetricsScrape.TakeAsync(live.Proxy);
        var exported = scrape.Samples.Select(static s => s.Name).ToHashSet(StringComparer.Ordinal);
        var names = used.Where(static u => !NotExported.Contains(u.Name)).ToLookup(static u => u.Name, static u => u.Where, StringComparer.Ordinal);

        var missing = names.Where(n => !exported.Contains(n.Key)).OrderBy(static n => n.Key, StringComparer.Ordinal)
            .Select(static n => $"{n.Key} (used by {string.Join(", ", n.Distinct(StringComparer.Ordinal))})").ToList();

        Assert.True(names.Count > 5, $"only {names.Count} metric names found in the {what}");
        Assert.True(missing.Count == 0, $"the {what} name {missing.Count} metric(s) the live /metrics does not export: {string.Join("; ", missing)}");
    }

    [GeneratedRegex(@"^label_values\((.*),\s*(\w+)\)$")]
    private static partial Regex LabelValues();
}
