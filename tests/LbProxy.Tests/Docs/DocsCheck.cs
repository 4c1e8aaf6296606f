using System.Text.RegularExpressions;
using LbProxy.Tests.Infrastructure;

namespace LbProxy.Tests.Docs;

/// <summary>A command of a page: where it is, and whether it was inline code rather than a line of a <c>```sh</c> block.</summary>
internal sealed record DocCommand(string Page, int Line, string Text, bool Inline)
{
    public override string ToString() => $"{Page}:{Line}: {Text}";
}

/// <summary>A command of the docs run for real, quickly: a bench's <c>--dry-run</c>, or the proxy's <c>validate</c>.</summary>
internal sealed record DocRun(DocCommand Command, string Program, IReadOnlyList<string> Args)
{
    public bool IsValidate => Program == "LbProxy";
}

/// <summary>
/// The manual under a repository root (README.md, deploy/README.md and every page under docs/), and what of it can be
/// checked quickly and for real: relative links reach a file and a heading, and the commands that run a project script
/// or the project name files and projects that exist, with what they accept left to the scripts themselves (the
/// bench's <c>--dry-run</c>) or to the proxy (<c>validate</c>).
/// </summary>
internal sealed partial class DocsCheck(string root)
{
    /// <summary>Folders of the repository whose paths a command may name; any such path must exist.</summary>
    private static readonly string[] RepositoryFolders = ["src/", "tests/", "bench/", "deploy/", "docs/"];

    /// <summary>Scripts that plan without running when given --dry-run.</summary>
    private static readonly string[] DryRunScripts = ["bench/bench.py", "bench/bench_tls.py"];

    /// <summary>The bench's results as they were written: the command lines in them are records of past runs, not instructions.</summary>
    private const string RecordsFolder = "docs/bench/";

    public string Root { get; } = root;

    /// <summary>The pages, as paths from the root with forward slashes.</summary>
    public IReadOnlyList<string> Pages()
    {
        var docs = Path.Combine(Root, "docs");
        var pages = Directory.Exists(docs)
            ? Directory.EnumerateFiles(docs, "*.md", SearchOption.AllDirectories).Select(Relative).ToList()
            : [];
        pages.AddRange(new[] { "README.md", "deploy/README.md" }.Where(p => File.Exists(Path.Combine(Root, p))));
        return [.. pages.Order(StringComparer.Ordinal)];
    }

    /// <summary>Every relative link of the page that reaches no file or directory of the clone, or no heading of the page it names.</summary>
    public IEnumerable<string> BrokenLinks(string page)
    {
        foreach (var (line, target) in Markdown.Links(Read(page)))
        {
            if (target.Contains("://", StringComparison.Ordinal) || target.StartsWith("mailto:", StringComparison.Ordinal))
            {
                continue;
            }

            var problem = LinkProblem(page, target);
            if (problem is not null)
            {
                yield return $"{page}:{line.Number}: ({target}) {problem}";
            }
        }
    }

    /// <summary>The page's commands that run a project script or the project: lines of <c>```sh</c> blocks, and inline code that starts like one.</summary>
    public IEnumerable<DocCommand> Commands(string page)
    {
        if (page.StartsWith(RecordsFolder, StringComparison.Ordinal))
        {
            yield break;
        }

        var text = Read(page);
        foreach (var (line, command) in Markdown.ShellCommands(text))
        {
            yield return new DocCommand(page, line.Number, command, Inline: false);
        }

        foreach (var (line, code) in Markdown.InlineCodes(text))
        {
            if (InlineCommand().IsMatch(code))
            {
                yield return new DocCommand(page, line.Number, code, Inline: true);
            }
        }
    }

    /// <summary>What is wrong with a command that can be seen without running it; what can be run quickly goes to <paramref name="runs"/>.</summary>
    public IEnumerable<string> Problems(DocCommand command, ICollection<DocRun> runs)
    {
        // Optional arguments are written in brackets ([--quick], [SCRAPES]): check them as if given.
        var words = Markdown.Words(command.Text.Replace("[", " ", StringComparison.Ordinal).Replace("]", " ", StringComparison.Ordinal))
            .Where(static w => w != "...")
            .ToList();
        if (words.Count == 0)
        {
            yield break;
        }

        foreach (var word in words)
        {
            var path = RepositoryPath(word);
            if (path is not null && !Exists(path))
            {
                yield return $"{command}: no {path} in the repository";
            }
        }

        switch (words[0])
        {
            case "bash" or "python3" when words.Count < 2 || !File.Exists(Path.Combine(Root, words[1])):
                yield return $"{command}: no script {(words.Count < 2 ? "named" : words[1])}";
                break;
            case "python3" when DryRunScripts.Contains(words[1]):
                runs.Add(new DocRun(command, "python3", words.Contains("--dry-run") ? words[1..] : [.. words[1..], "--dry-run"]));
                break;
            case "dotnet" when words.Count > 1 && words[1] is "run" or "publish" or "build" or "test":
                foreach (var problem in DotnetProblems(command, words, runs))
                {
                    yield return problem;
                }

                break;
            default:
                break;
        }
    }

    private IEnumerable<string> DotnetProblems(DocCommand command, List<string> words, ICollection<DocRun> runs)
    {
        var separator = words.IndexOf("--");
        var own = separator < 0 ? words : words[..separator];
        var projectAt = own.IndexOf("--project");
        var project = projectAt >= 0 && projectAt + 1 < own.Count ? own[projectAt + 1]
            : own.Count > 2 && !own[2].StartsWith('-') ? own[2]
            : null;
        if (project is null && words[1] == "run")
        {
            yield return $"{command}: dotnet run with no --project runs whatever project is in the working directory (the root has none)";
        }
        else if (project is not null && !IsProject(project))
        {
            yield return $"{command}: {project} is no project of the repository";
        }

        // `dotnet run --project src/LbProxy -- validate PATH`: the proxy's own check of a config file of the repository.
        if (words[1] == "run" && separator >= 0 && separator + 2 < words.Count && words[separator + 1] == "validate")
        {
            var file = words[separator + 2];
            if (Placeholder().IsMatch(file))
            {
                yield break;
            }

            if (!File.Exists(Path.Combine(Root, file)))
            {
                yield return $"{command}: no config file {file}";
            }
            else
            {
                runs.Add(new DocRun(command, "LbProxy", ["validate", file]));
            }
        }
    }

    private string? LinkProblem(string page, string target)
    {
        var hash = target.IndexOf('#', StringComparison.Ordinal);
        var (path, anchor) = hash < 0 ? (target, null) : (target[..hash], target[(hash + 1)..]);
        var pageDirectory = Path.GetDirectoryName(Path.Combine(Root, page))!;
        var full = path.Length == 0 ? Path.Combine(Root, page) : Path.GetFullPath(Path.Combine(pageDirectory, Uri.UnescapeDataString(path)));
        if (!Inside(full))
        {
            return "leads outside the repository";
        }

        if (!File.Exists(full) && !Directory.Exists(full))
        {
            return "no such file";
        }

        if (anchor is null)
        {
            return null;
        }

        if (!full.EndsWith(".md", StringComparison.Ordinal) || !File.Exists(full))
        {
            return "an anchor in a file that is not a Markdown page";
        }

        return Markdown.Anchors(File.ReadAllText(full)).Contains(anchor) ? null : $"no heading with the anchor '{anchor}' in {Relative(full)}";
    }

    /// <summary>The path a word of a command names in the repository (docker's <c>"$PWD/deploy/config:/config:ro"</c> included), or null.</summary>
    private static string? RepositoryPath(string word)
    {
        var path = word.StartsWith("$PWD/", StringComparison.Ordinal) ? word["$PWD/".Length..] : word;
        if (!RepositoryFolders.Any(f => path.StartsWith(f, StringComparison.Ordinal)))
        {
            return null;
        }

        var colon = path.IndexOf(':', StringComparison.Ordinal);
        return colon < 0 ? path : path[..colon];
    }

    private bool IsProject(string project)
    {
        var full = Path.Combine(Root, project);
        return Directory.Exists(full)
            ? Directory.EnumerateFiles(full, "*.csproj").Any()
            : File.Exists(full) && (full.EndsWith(".csproj", StringComparison.Ordinal) || full.EndsWith(".sln", StringComparison.Ordinal));
    }

    private bool Exists(string path) => File.Exists(Path.Combine(Root, path)) || Directory.Exists(Path.Combine(Root, path));

    private bool Inside(string full) =>
        full == Path.GetFullPath(Root) || full.StartsWith(Path.GetFullPath(Root) + Path.DirectorySeparatorChar, StringComparison.Ordinal);

    private string Read(string page) => File.ReadAllText(Path.Combine(Root, page));

    private string Relative(string full) => Path.GetRelativePath(Root, full).Replace(Path.DirectorySeparatorChar, '/');

    /// <summary>Inline code that runs a project script or the project.</summary>
    [GeneratedRegex(@"^(bash|python3|dotnet (run|publish|build|test)) \S")]
    private static partial Regex InlineCommand();

    /// <summary>A word the reader replaces: PATH, DIR, PID.</summary>
    [GeneratedRegex("^[A-Z][A-Z0-9_]*$")]
    private static partial Regex Placeholder();
}
