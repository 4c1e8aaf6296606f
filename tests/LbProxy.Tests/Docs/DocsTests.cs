using LbProxy.Tests.Infrastructure;
using Xunit.Abstractions;

namespace LbProxy.Tests.Docs;

/// <summary>
/// The README is an entrance that starts with the two commands and leads to every page of the manual; every relative
/// link of the manual reaches a file and a heading; every command of it that runs a project script or the project
/// still runs as written, as far as a second can tell: what it names exists, the bench accepts its flags (--dry-run)
/// and the proxy accepts the config files it is told to validate.
/// </summary>
public sealed class DocsTests(ITestOutputHelper output)
{
    private static readonly DocsCheck Repository = new(RepositoryRoot.Path);

    [Fact]
    public void Readme_StartsWithTheTwoCommands()
    {
        var first = Markdown.ShellCommands(File.ReadAllText(Path.Combine(RepositoryRoot.Path, "README.md")))
            .Take(2)
            .Select(static c => c.Command);

        Assert.Equal(["dotnet run -c Release --project src/LbProxy", "bash tests/run"], first);
    }

    [Fact]
    public void EveryDotnetRunOfTheProject_IsTheReleaseBuild()
    {
        // Without -c Release, `dotnet run` builds Debug beside the Release build the README starts with: minutes.
        var pages = Directory.EnumerateFiles(Path.Combine(RepositoryRoot.Path, "docs"), "*.md").Append(Path.Combine(RepositoryRoot.Path, "README.md"));
        var runs = pages.SelectMany(static page => File.ReadLines(page)
                .Where(static line => line.Contains("dotnet run", StringComparison.Ordinal) && line.Contains("--project", StringComparison.Ordinal))
                .Select(line => (Page: Path.GetFileName(page), Line: line)))
            .ToList();

        Assert.Contains(runs, static r => r.Line.Contains("-- validate", StringComparison.Ordinal));
        Assert.Contains(runs, static r => r.Line.Contains("-- origin", StringComparison.Ordinal));
        Assert.All(runs, static r => Assert.True(r.Line.Contains("dotnet run -c Release --project", StringComparison.Ordinal), $"{r.Page}: {r.Line}"));
    }

    [Fact]
    public void Readme_IsAnEntranceOfAtMost300LinesThatLeadsToEveryPage()
    {
        var readme = File.ReadAllText(Path.Combine(RepositoryRoot.Path, "README.md"));
        var linked = Markdown.Links(readme).Select(static l => l.Target.Split('#')[0]).ToHashSet(StringComparer.Ordinal);
        var pages = Directory.EnumerateFiles(Path.Combine(RepositoryRoot.Path, "docs"), "*.md")
            .Select(static p => "docs/" + Path.GetFileName(p))
            .ToList();

        Assert.InRange(readme.TrimEnd('\n').Split('\n').Length, 1, 300);
        Assert.True(pages.Count > 5, string.Join(", ", pages));
        Assert.All(pages, page => Assert.True(linked.Contains(page), $"README.md has no link to {page}"));
    }

    [Fact]
    public void Links_InEveryPage_ReachAFileAndAHeading()
    {
        var pages = Repository.Pages();
        var broken = pages.SelectMany(Repository.BrokenLinks).ToList();
        var count = pages.Sum(p => Markdown.Links(File.ReadAllText(Path.Combine(RepositoryRoot.Path, p))).Count());
        output.WriteLine($"{pages.Count} pages, {count} links");

        Assert.Contains("docs/operations.md", pages);
        Assert.True(count > 30, $"only {count} links read: the reader is broken");
        Assert.True(broken.Count == 0, "broken links:\n" + string.Join("\n", broken));
    }

    [Fact]
    public async Task Commands_InEveryPage_NameWhatExistsAndRunAsWritten()
    {
        var runs = new List<DocRun>();
        var commands = Repository.Pages().SelectMany(Repository.Commands).ToList();
        var problems = commands.SelectMany(c => Repository.Problems(c, runs)).ToList();

        var distinct = runs.DistinctBy(static r => (r.Program, string.Join('\0', r.Args))).ToList();
        var results = await Task.WhenAll(distinct.Select(static r => RunAsync(RepositoryRoot.Path, r)));
        problems.AddRange(results.OfType<string>());
        foreach (var run in distinct)
        {
            output.WriteLine($"ran {run.Program} {string.Join(' ', run.Args)}    ({run.Command.Page}:{run.Command.Line})");
        }

        // Not vacuous: the README's commands are read, the bench is planned and a config is validated for real.
        Assert.Contains(commands, static c => c.Page == "README.md" && c.Text == "bash tests/run");
        Assert.Contains(runs, static r => r.Program == "python3" && r.Args.Contains("soak"));
        Assert.Contains(runs, static r => r.IsValidate);
        Assert.True(problems.Count == 0, "commands that would not run as written:\n" + string.Join("\n", problems));
    }

    [Fact]
    public async Task Check_BrokenLinkMissingScriptOrBadFlag_IsFound()
    {
        // The checks above can fail: a page with one of each mistake, in a clone of a few files.
        using var clone = new TempDirectory();
        Directory.CreateDirectory(Path.Combine(clone.Path, "docs"));
        Directory.CreateDirectory(Path.Combine(clone.Path, "bench"));
        foreach (var script in new[] { "bench.py", "bench_tls.py" })
        {
            File.Copy(Path.Combine(RepositoryRoot.Path, "bench", script), Path.Combine(clone.Path, "bench", script));
        }

        File.WriteAllText(Path.Combine(clone.Path, "docs", "other.md"), "# Other\n\n## Some section\n\n```sh\n## Not a heading\n```\n");
        File.WriteAllText(Path.Combine(clone.Path, "README.md"), string.Join("\n",
            "# Page",
            "[fine](docs/other.md#some-section) [gone](docs/gone.md) [bad anchor](docs/other.md#not-a-heading) [self](#page) [nowhere](#nowhere)",
            "![image](docs/gone.png) [out](../elsewhere.md) `[in code](docs/gone.md)` [web](https://example.com/x.md)",
            "",
            "```sh",
            "bash tests/gone.sh                 # a script that is not there",
            "python3 bench/bench.py soak --no-such-flag",
            "python3 bench/bench.py --quick",
            "dotnet run --project src/Gone -- validate deploy/gone.json",
            "```",
            "",
            "and inline `python3 bench/bench.py tls [--quick]`, `bash bench/gone.sh [SCRAPES]`.",
            ""));
        var check = new DocsCheck(clone.Path);

        var broken = check.BrokenLinks("README.md").ToList();
        var runs = new List<DocRun>();
        var problems = check.Pages().SelectMany(check.Commands).SelectMany(c => check.Problems(c, runs)).ToList();
        var ran = await Task.WhenAll(runs.Select(r => RunAsync(clone.Path, r)));

        Assert.Equal(["docs/gone.md", "docs/other.md#not-a-heading", "#nowhere", "docs/gone.png", "../elsewhere.md"], broken.Select(static b => b.Split('(', ')')[1]));
        Assert.Empty(check.BrokenLinks("docs/other.md"));
        Assert.Contains(problems, static p => p.Contains("no script tests/gone.sh", StringComparison.Ordinal));
        Assert.Contains(problems, static p => p.Contains("no script bench/gone.sh", StringComparison.Ordinal));
        Assert.Contains(problems, static p => p.Contains("src/Gone is no project", StringComparison.Ordinal));
        Assert.Contains(problems, static p => p.Contains("no config file deploy/gone.json", StringComparison.Ordinal));
        Assert.Equal(3, runs.Count); // soak, --quick, tls --quick; the validate of a missing file is not run
        Assert.Single(ran.OfType<string>(), static p => p.Contains("--no-such-flag", StringComparison.Ordinal));
    }

    /// <summary>Runs one command of the docs; null when it ran as written, else what went wrong.</summary>
    private static async Task<string?> RunAsync(string root, DocRun run)
    {
        var (exitCode, text) = run.IsValidate
            ? await ProxyProcess.RunToExitAsync(root, TimeSpan.FromSeconds(30), [.. run.Args])
            : await ExternalProgram.RunAsync(run.Program, run.Args, root, TimeSpan.FromSeconds(30));
        return exitCode == 0 ? null : $"{run.Command}: `{run.Program} {string.Join(' ', run.Args)}` exited {exitCode}: {text.Trim()}";
    }
}
