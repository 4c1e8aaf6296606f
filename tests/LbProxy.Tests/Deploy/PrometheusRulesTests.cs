using System.Text.RegularExpressions;
using LbProxy.Tests.Infrastructure;

namespace LbProxy.Tests.Deploy;

/// <summary>
/// deploy/prometheus through promtool (Debian's prometheus package, which tests/install-deps.sh installs): the shipped
/// config and every rule file are valid, every rule file's unit tests pass, every alert has tests that see it fire
/// and stay silent, carries what an operator needs and points at a runbook that exists; the PrometheusRule and the
/// dashboards are what their generators write.
/// </summary>
public sealed class PrometheusRulesTests
{
    public static TheoryData<string> RuleFiles => [.. DeployFiles.RuleFiles.Select(static f => Path.GetFileName(f))];

    /// <summary>The page of the runbooks, from the repository root, as the alerts' runbook_url name it.</summary>
    private const string RunbookPage = "docs/operations.md";

    public static TheoryData<string> Alerts => [.. AlertRules.All.Select(static r => r.Name)];

    [Fact]
    public async Task PromtoolCheckConfig_ShippedConfig_IsValidAndLoadsEveryRuleFile()
    {
        var (exitCode, output) = await ExternalProgram.RunAsync("promtool", ["check", "config", DeployFiles.PrometheusYml]);

        Assert.True(exitCode == 0, output);
        Assert.Contains($"SUCCESS: {DeployFiles.RuleFiles.Count} rule files found", output);
        Assert.Contains("rules/*.rules.yml", File.ReadAllText(DeployFiles.PrometheusYml));
    }

    [Theory]
    [MemberData(nameof(RuleFiles))]
    public async Task PromtoolCheckRules_RuleFile_IsValid(string file)
    {
        var path = Path.Combine(DeployFiles.Prometheus, "rules", file);

        var (exitCode, output) = await ExternalProgram.RunAsync("promtool", ["check", "rules", path]);

        Assert.True(exitCode == 0, output);
        Assert.Contains($"SUCCESS: {AlertRules.All.Count(r => r.File == file)} rules found", output);
    }

    [Theory]
    [MemberData(nameof(RuleFiles))]
    public async Task PromtoolTestRules_RuleFile_HasUnitTestsThatPass(string file)
    {
        var test = Path.Combine(DeployFiles.Prometheus, "tests", file.Replace(".rules.yml", ".test.yml", StringComparison.Ordinal));
        Assert.True(File.Exists(test), $"{file} has no unit tests at {test}");
        Assert.Contains($"../rules/{file}", File.ReadAllText(test));

        var (exitCode, output) = await ExternalProgram.RunAsync(
            "promtool", ["test", "rules", Path.GetFileName(test)], Path.GetDirectoryName(test), TimeSpan.FromMinutes(2));

        Assert.True(exitCode == 0, output);
        Assert.Contains("SUCCESS", output);
    }

    [Theory]
    [MemberData(nameof(Alerts))]
    public void UnitTests_EveryAlert_IsSeenFiringAndStayingSilent(string alert)
    {
        var tests = string.Join("\n", DeployFiles.RuleTestFiles.Select(File.ReadAllText));
        var name = Regex.Escape(alert);

        Assert.True(Regex.IsMatch(tests, $@"alertname: {name}\s*\n\s*exp_alerts:\s*\n\s*- exp_labels:"), $"no unit test expects {alert} to fire");
        Assert.True(
            Regex.IsMatch(tests, $@"alertname: {name}\s*,\s*exp_alerts: \[\]") || Regex.IsMatch(tests, $@"alertname: {name}\s*\n\s*exp_alerts: \[\]"),
            $"no unit test expects {alert} to stay silent");
    }

    [Theory]
    [MemberData(nameof(Alerts))]
    public void Alert_HasSeveritySummaryDescriptionAndRunbook(string alert)
    {
        var rule = AlertRules.All.Single(r => r.Name == alert);

        Assert.Matches(@"\n\s+severity: (warning|critical)\s*\n", rule.Block);
        Assert.Matches(@"\n\s+summary: \S", rule.Block);
        Assert.Matches(@"\n\s+description: \S", rule.Block);
        Assert.Equal($"{RunbookPage}#{Markdown.Anchor(alert)}", rule.RunbookUrl);
    }

    [Fact]
    public void RunbookUrls_EachNamesAFileOfTheRepositoryAndAHeadingInIt()
    {
        var missing = AlertRules.All.Select(static r => (r.Name, Problem: RunbookProblem(RepositoryRoot.Path, r.RunbookUrl))).Where(static r => r.Problem is not null).ToList();

        Assert.NotEmpty(AlertRules.All);
        Assert.True(missing.Count == 0, "runbooks missing:\n" + string.Join("\n", missing.Select(static m => $"{m.Name}: {m.Problem}")));
    }

    [Fact]
    public void RunbookProblem_MissingFileOrHeading_IsFound()
    {
        // Not vacuous: the check above finds a file that is not there, a heading that is not there, a path outside the clone.
        using var copy = new TempDirectory();
        File.WriteAllText(Path.Combine(copy.Path, "ops.md"), "# Ops\n\n## Runbooks\n\n### LbProxyTimerLeak\n\n```sh\n# LbProxyInCode\n```\n");

        Assert.Null(RunbookProblem(copy.Path, "ops.md#lbproxytimerleak"));
        Assert.Contains("no file", RunbookProblem(copy.Path, "gone.md#lbproxytimerleak"), StringComparison.Ordinal);
        Assert.Contains("no heading", RunbookProblem(copy.Path, "ops.md#lbproxyclusterdown"), StringComparison.Ordinal);
        Assert.Contains("no heading", RunbookProblem(copy.Path, "ops.md#lbproxyincode"), StringComparison.Ordinal);
        Assert.Contains("no heading", RunbookProblem(copy.Path, "ops.md"), StringComparison.Ordinal);
        Assert.Contains("outside", RunbookProblem(copy.Path, "../ops.md#lbproxytimerleak"), StringComparison.Ordinal);
        Assert.NotNull(RunbookProblem(copy.Path, null));
    }

    [Fact]
    public async Task PrometheusRule_IsGeneratedFromTheRuleFiles()
    {
        var (exitCode, output) = await ExternalProgram.RunAsync("python3", [Path.Combine(DeployFiles.Kubernetes, "gen_prometheusrule.py"), "--check"]);

        Assert.True(exitCode == 0, output);
        var generated = File.ReadAllText(Path.Combine(DeployFiles.Kubernetes, "prometheusrule.yaml"));
        Assert.All(AlertRules.All, rule => Assert.Contains(Indent(rule.Block).TrimEnd(), generated));
    }

    [Fact]
    public async Task PrometheusRuleCheck_RuleFileEditedWithoutRegenerating_Fails()
    {
        using var copy = new TempDirectory();
        CopyDirectory(DeployFiles.Kubernetes, Path.Combine(copy.Path, "k8s"));
        CopyDirectory(Path.Combine(DeployFiles.Prometheus, "rules"), Path.Combine(copy.Path, "prometheus", "rules"));
        var rules = Path.Combine(copy.Path, "prometheus", "rules", Path.GetFileName(DeployFiles.RuleFiles[0]));
        File.WriteAllText(rules, File.ReadAllText(rules).Replace("severity: warning", "severity: critical", StringComparison.Ordinal));

        var (exitCode, output) = await ExternalProgram.RunAsync("python3", [Path.Combine(copy.Path, "k8s", "gen_prometheusrule.py"), "--check"]);

        Assert.True(exitCode == 1, output);
        Assert.Contains("stale", output);
    }

    [Fact]
    public async Task Dashboards_AreWhatTheGeneratorWrites()
    {
        var (exitCode, output) = await ExternalProgram.RunAsync("python3", [Path.Combine(DeployFiles.Deploy, "grafana", "gen_dashboards.py"), "--check"]);

        Assert.True(exitCode == 0, output);
    }

    /// <summary>Why a runbook URL (a path from the repository root, then #anchor) names no heading of a file of the clone; null when it does.</summary>
    private static string? RunbookProblem(string root, string? url)
    {
        if (url is null)
        {
            return "no runbook_url";
        }

        var hash = url.IndexOf('#', StringComparison.Ordinal);
        var (path, anchor) = hash < 0 ? (url, string.Empty) : (url[..hash], url[(hash + 1)..]);
        var full = Path.GetFullPath(Path.Combine(root, path));
        if (!full.StartsWith(Path.GetFullPath(root) + Path.DirectorySeparatorChar, StringComparison.Ordinal))
        {
            return $"{url}: {path} is outside the repository";
        }

        if (!File.Exists(full))
        {
            return $"{url}: no file {path}";
        }

        return Markdown.Anchors(File.ReadAllText(full)).Contains(anchor) ? null : $"{url}: {path} has no heading with the anchor '{anchor}'";
    }

    /// <summary>The block as the generator places it under spec.groups: two spaces deeper.</summary>
    private static string Indent(string block) =>
        string.Join("\n", block.Split('\n').Select(static line => line.Length == 0 ? line : "  " + line));

    private static void CopyDirectory(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.GetFiles(from))
        {
            File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
        }
    }
}
