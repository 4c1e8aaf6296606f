using System.Text.Json;

namespace LbProxy.Tests.Infrastructure;

/// <summary>
/// deploy/Dockerfile read as the builder reads it: its stages, and in each the COPY, RUN, ENV, WORKDIR and ENTRYPOINT
/// instructions in order, so a test can carry out what can be carried out without an engine.
/// </summary>
internal sealed record Dockerfile(IReadOnlyList<DockerStage> Stages)
{
    public static Dockerfile Read(string path)
    {
        var stages = new List<DockerStage>();
        foreach (var raw in File.ReadAllLines(path))
        {
            var line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('#'))
            {
                continue;
            }

            var space = line.IndexOf(' ', StringComparison.Ordinal);
            var keyword = line[..space].ToUpperInvariant();
            var rest = line[(space + 1)..].Trim();
            if (keyword == "FROM")
            {
                stages.Add(new DockerStage(rest, []));
            }
            else
            {
                stages[^1].Instructions.Add((keyword, rest));
            }
        }

        return new Dockerfile(stages);
    }

    /// <summary>The arguments of an exec-form instruction (<c>["dotnet", "LbProxy.dll"]</c>).</summary>
    public static string[] ExecForm(string json) => JsonSerializer.Deserialize<string[]>(json)!;
}

internal sealed record DockerStage(string From, List<(string Keyword, string Arguments)> Instructions)
{
    public IEnumerable<string> All(string keyword) =>
        Instructions.Where(i => i.Keyword == keyword).Select(static i => i.Arguments);
}
