using System.Text.Json;
using System.Text.RegularExpressions;
using LbProxy.Tests.Infrastructure;

namespace LbProxy.Tests.Deploy;

/// <summary>
/// The dashboards follow Grafana's dashboard-linter conventions (its rules, re-stated here: the linter is a Go tool
/// no registry here serves), and carry the panels the story needs: timers and CPU.
/// </summary>
public sealed partial class DashboardLintTests
{
    private static readonly HashSet<string> Units = new(StringComparer.Ordinal)
    {
        "none", "short", "percent", "percentunit", "bytes", "decbytes", "Bps", "s", "ms", "reqps", "ops", "cps", "bool",
    };

    public static TheoryData<string> DashboardNames => [.. Dashboards.All.Select(static d => d.Dashboard)];

    [Theory]
    [MemberData(nameof(DashboardNames))]
    public void Dashboard_HasDatasourceJobAndInstanceVariables(string name)
    {
        var variables = Root(name).GetProperty("templating").GetProperty("list").EnumerateArray().ToDictionary(static v => v.GetProperty("name").GetString()!);

        Assert.Equal("datasource", variables["datasource"].GetProperty("type").GetString());
        Assert.Equal("prometheus", variables["datasource"].GetProperty("query").GetString());
        foreach (var (variable, label) in new[] { ("job", "Job"), ("instance", "Instance") })
        {
            var v = variables[variable];
            Assert.Equal("query", v.GetProperty("type").GetString());
            Assert.Equal(label, v.GetProperty("label").GetString());
            Assert.True(v.GetProperty("multi").GetBoolean(), $"{variable} is multi-select");
            Assert.Equal(".+", v.GetProperty("allValue").GetString());
            Assert.Equal("${datasource}", v.GetProperty("datasource").GetProperty("uid").GetString());
        }

        Assert.False(Root(name).GetProperty("editable").GetBoolean()); // provisioned: edits would be lost
    }

    [Theory]
    [MemberData(nameof(DashboardNames))]
    public void EveryPanel_HasTheDatasourceVariableAUnitAndADescription(string name)
    {
        foreach (var panel in Dashboards.Panels(Root(name)))
        {
            var title = panel.GetProperty("title").GetString();
            Assert.True(panel.GetProperty("datasource").GetProperty("uid").GetString() == "${datasource}", $"{title}: datasource");
            var unit = panel.GetProperty("fieldConfig").GetProperty("defaults").GetProperty("unit").GetString();
            Assert.True(unit is not null && Units.Contains(unit), $"{title}: unit {unit}");
            Assert.False(string.IsNullOrWhiteSpace(panel.GetProperty("description").GetString()), $"{title}: description");
        }
    }

    [Theory]
    [MemberData(nameof(DashboardNames))]
    public void EveryQuery_SelectsByJobAndInstanceAndRatesOverTheRateInterval(string name)
    {
        var problems = new List<string>();
        foreach (var (where, expr) in Dashboards.PanelQueries().Concat(Dashboards.AnnotationQueries()).Where(q => q.Where.StartsWith(name, StringComparison.Ordinal)))
        {
            var selectors = Dashboards.SelectorMatchers(expr);
            if (selectors.Count == 0 || selectors.Any(static s => !s.Contains("job=~\"$job\"", StringComparison.Ordinal) || !s.Contains("instance=~\"$instance\"", StringComparison.Ordinal)))
            {
                problems.Add($"{where}: a selector without job=~\"$job\" and instance=~\"$instance\": {expr}");
            }

            foreach (Match rate in RateWindow().Matches(expr))
            {
                if (rate.Groups[1].Value != "$__rate_interval")
                {
                    problems.Add($"{where}: rate over [{rate.Groups[1].Value}], not $__rate_interval");
                }
            }
        }

        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    [Fact]
    public void SelectorCheck_BareSelector_IsFound()
    {
        // The lint above is only as good as its selector reader: it must see a selector that lacks the matchers.
        Assert.Equal(["job=~\"$job\", instance=~\"$instance\"", ""], Dashboards.SelectorMatchers("sum by (instance) (rate(lbproxy_a_total{job=~\"$job\", instance=~\"$instance\"}[1m])) / dotnet_timer_count"));
        Assert.Equal(["lbproxy_proxy_requests_total"], Dashboards.MetricNames("label_replace(rate(lbproxy_proxy_requests_total{x=\"dotnet_y\"}[1m]), \"a\", \"${1}xx\", \"b\", \"(.)\")"));
    }

    [Fact]
    public void Dashboards_HaveTimerCountAndCpuPanels()
    {
        var queries = Dashboards.PanelQueries().ToList();

        Assert.Contains(queries, static q => q.Expr.Contains("dotnet_timer_count", StringComparison.Ordinal) && q.Where.StartsWith("lbproxy-overview", StringComparison.Ordinal));
        Assert.Contains(queries, static q => q.Expr.Contains("dotnet_timer_count", StringComparison.Ordinal) && q.Expr.Contains("lbproxy_proxy_active_requests", StringComparison.Ordinal));
        Assert.Contains(queries, static q => q.Expr.Contains("dotnet_process_cpu_time_seconds_total", StringComparison.Ordinal) && q.Expr.Contains("lbproxy_proxy_requests_total", StringComparison.Ordinal));
        Assert.Contains(queries, static q => q.Expr.Contains("lbproxy_outlier_ejections_total", StringComparison.Ordinal));
    }

    [Fact]
    public void HealthyDestinations_NeverSummedOverReplicas()
    {
        const string Health = "lbproxy_destination_healthy";
        var queries = Dashboards.PanelQueries().Where(static q => q.Expr.Contains(Health, StringComparison.Ordinal)).ToList();
        var sums = queries.SelectMany(static q => SumOf(q.Expr, Health).Select(by => (q.Where, q.Expr, By: by))).ToList();

        // The panel the issue saw double counting: it is there, per replica, and each of its queries keeps the
        // instance or takes the fewest / most across replicas.
        var overview = queries.Where(static q => q.Where.StartsWith("lbproxy-overview.json / Healthy destinations", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(overview);
        Assert.All(overview, static q => Assert.True(
            Regex.IsMatch(q.Expr, @"^(?:(?:min|max) by \(cluster\) \()?(?:sum|count) by \(instance, cluster\) \("),
            $"{q.Where}: neither per instance nor min/max across replicas: {q.Expr}"));
        Assert.NotEmpty(sums);
        Assert.All(sums, static s => Assert.True(s.By.Contains("instance"), $"{s.Where}: sums {Health} over replicas (by {string.Join(", ", s.By)}): {s.Expr}"));
    }

    [Fact]
    public void SumReader_FindsTheSumThatDoubleCounted()
    {
        // What the Overview showed before: 4 of 5 with two replicas. The check above must see it.
        Assert.Equal([["cluster"]], SumOf("sum by (cluster) (lbproxy_destination_healthy{job=~\"$job\", instance=~\"$instance\"})", "lbproxy_destination_healthy"));
        Assert.Equal([[]], SumOf("sum(lbproxy_destination_healthy)", "lbproxy_destination_healthy"));
        Assert.Empty(SumOf("max by (cluster) (sum by (instance, cluster) (lbproxy_other))", "lbproxy_destination_healthy"));
    }

    [Fact]
    public async Task DisagreementPanel_QueriesHealthSpreadAcrossReplicas_OfAMetricLbProxyExports()
    {
        var panel = Dashboards.PanelQueries().Where(static q => q.Where.Contains("disagreeing", StringComparison.OrdinalIgnoreCase)).ToList();

        var query = Assert.Single(panel);
        var spread = HealthSpread().Match(query.Expr);
        Assert.True(spread.Success, $"{query.Where}: not max by (...) (m) - min by (...) (m) over one metric: {query.Expr}");
        var by = spread.Groups["by"].Value.Split(',', StringSplitOptions.TrimEntries);
        Assert.Contains("destination", by);
        Assert.DoesNotContain("instance", by); // across the replicas, not within one

        // The metric is one a real LbProxy exports, per destination.
        await using var origins = await TestOrigins.StartAsync(1);
        await using var proxy = await TestProxy.StartAsync(new TestConfig().Route("images", "images", "/images/{**path}").Cluster("images", origins.All).ToJson());
        var scrape = await MetricsScrape.TakeAsync(proxy.Client);
        Assert.Contains(scrape.Where(spread.Groups["metric"].Value), static s => s.Labels.ContainsKey("destination"));
    }

    /// <summary>The grouping labels of each <c>sum</c> applied directly to <paramref name="metric"/>'s series.</summary>
    private static List<string[]> SumOf(string expr, string metric) =>
        [.. Regex.Matches(expr, @"\bsum\s*(?:by\s*\(([^)]*)\)\s*)?\(\s*" + Regex.Escape(metric) + @"\b")
            .Select(static m => m.Groups[1].Value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))];

    private static JsonElement Root(string name) => Dashboards.All.Single(d => d.Dashboard == name).Root;

    [GeneratedRegex(@"^max by \((?<by>[^)]*)\) \((?<metric>\w+)\{[^}]*\}\) - min by \(\k<by>\) \(\k<metric>\{[^}]*\}\)$")]
    private static partial Regex HealthSpread();

    [GeneratedRegex(@"\b(?:rate|irate)\s*\((?:[^()\[]|\([^()]*\))*\[([^\]]+)\]")]
    private static partial Regex RateWindow();
}
