using System.Diagnostics;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using LbProxy.Tests.Infrastructure;

namespace LbProxy.Tests.Functional;

/// <summary>
/// The TLS alert rules (deploy/prometheus/rules/tls.rules.yml) pass Prometheus's own checks and unit tests, and name
/// only metrics that a TLS-configured LbProxy really exposes.
/// </summary>
public sealed partial class TlsAlertRuleTests : IDisposable
{
    private static readonly string Rules = Path.Combine(RepositoryRoot.Path, "deploy", "prometheus", "rules", "tls.rules.yml");
    private static readonly string RuleTests = Path.Combine(RepositoryRoot.Path, "deploy", "prometheus", "tests", "tls.test.yml");

    private readonly TestCertificates _certificates = new();
    private readonly TlsLayout _layout;

    public TlsAlertRuleTests() => _layout = new TlsLayout(_certificates);

    [Fact]
    public async Task Promtool_TlsRules_CheckAndUnitTestsPass()
    {
        var (checkExit, checkOutput) = await PromtoolAsync("check", "rules", Rules);
        Assert.True(checkExit == 0, checkOutput);
        Assert.Contains("SUCCESS: 2 rules found", checkOutput);

        var (testExit, testOutput) = await PromtoolAsync("test", "rules", RuleTests);
        Assert.True(testExit == 0, testOutput);
        Assert.Contains("SUCCESS", testOutput);
    }

    [Fact]
    public async Task Metrics_TlsProxy_ExposesEveryMetricTheRulesName()
    {
        var names = MetricName().Matches(await File.ReadAllTextAsync(Rules)).Select(static m => m.Value).Distinct().ToList();
        Assert.Equal(["lbproxy_tls_certificate_expiry_seconds", "lbproxy_tls_rotations_total"], names.Order(StringComparer.Ordinal));

        await using var origins = await TestOrigins.StartAsync(1);
        await _layout.AddAsync("images.test");
        var config = JsonNode.Parse(TestConfig.CatchAll(origins.All))!.AsObject();
        config["Kestrel"] = _layout.Kestrel("images.test");
        var path = Path.Combine(_layout.Directory.FullName, "yarp.json");
        await File.WriteAllTextAsync(path, config.ToJsonString());
        await using var proxy = await TestProxy.StartWithFileAsync(path);
        using var http = new HttpClient { BaseAddress = new Uri(proxy.App.Urls.First(static u => u.StartsWith("http://", StringComparison.Ordinal))) };

        var scrape = await MetricsScrape.TakeAsync(http);

        Assert.All(names, name => Assert.Contains(scrape.Samples, s => s.Name == name));
        Assert.Contains(scrape.Samples, static s => s.Name == "lbproxy_tls_rotations_total" && s.Labels.GetValueOrDefault("result") == "refused");
    }

    public void Dispose()
    {
        _layout.Dispose();
        _certificates.Dispose();
    }

    [GeneratedRegex(@"\blbproxy_[a-z_]+\b")]
    private static partial Regex MetricName();

    private static async Task<(int ExitCode, string Output)> PromtoolAsync(params string[] args)
    {
        var info = new ProcessStartInfo("promtool") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(cts.Token);
        return (process.ExitCode, await stdout + await stderr);
    }
}
