using System.Diagnostics;
using System.Text.Json;

namespace LbProxy.Tests.Infrastructure;

/// <summary>
/// Runs <c>tests/browser/ui-check.js</c>: headless Chromium (Debian's) through playwright-core opens the live page
/// of a running proxy, waits for what it is asked to, and prints one JSON report, returned here parsed. Fails
/// loudly, never skips, when node, the npm package or chromium is missing: <c>tests/install-deps.sh</c> installs them.
/// </summary>
internal static class BrowserCheck
{
    public static string Script { get; } = System.IO.Path.Combine(RepositoryRoot.Path, "tests", "browser", "ui-check.js");

    /// <summary>Where screenshots go: <c>$LBPROXY_TEST_ARTIFACTS</c>, else <c>TestResults/artifacts</c> at the root (git-ignored).</summary>
    public static string ArtifactsDirectory { get; } = Directory.CreateDirectory(
        Environment.GetEnvironmentVariable("LBPROXY_TEST_ARTIFACTS") is { Length: > 0 } configured
            ? configured
            : System.IO.Path.Combine(RepositoryRoot.Path, "TestResults", "artifacts")).FullName;

    public static async Task<BrowserReport> RunAsync(Uri proxy, string token, TimeSpan timeout, params string[] options)
    {
        Assert.True(File.Exists(Script), $"{Script} is missing");
        Assert.True(Directory.Exists(System.IO.Path.Combine(RepositoryRoot.Path, "tests", "browser", "node_modules", "playwright-core")),
            "playwright-core is not installed: run tests/install-deps.sh");
        var start = new ProcessStartInfo("node")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = System.IO.Path.GetDirectoryName(Script)!,
        };
        foreach (var argument in (string[])[Script, "--url", proxy.ToString().TrimEnd('/'), "--token", token,
            "--timeout", ((int)timeout.TotalSeconds).ToString(System.Globalization.CultureInfo.InvariantCulture), .. options])
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException("node did not start");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var bound = new CancellationTokenSource(timeout + TimeSpan.FromSeconds(30));
        try
        {
            await process.WaitForExitAsync(bound.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"ui-check.js did not finish within {timeout + TimeSpan.FromSeconds(30)}: {await stderr}");
        }

        var text = await stdout;
        Assert.True(text.TrimStart().StartsWith('{'), $"ui-check.js printed no report (exit {process.ExitCode}): {text} {await stderr}");
        return new BrowserReport(process.ExitCode, JsonDocument.Parse(text).RootElement.Clone(), text);
    }
}

/// <summary>The report of one run of ui-check.js, with its exit code (0: every wait succeeded).</summary>
internal sealed record BrowserReport(int ExitCode, JsonElement Root, string Text)
{
    public JsonElement this[string property] => Root.GetProperty(property);

    public IEnumerable<JsonElement> Charts => Root.GetProperty("charts").EnumerateArray();

    public JsonElement Chart(string id) => Charts.Single(c => c.GetProperty("id").GetString() == id);
}
