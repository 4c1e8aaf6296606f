using System.Text;
using System.Text.RegularExpressions;

namespace LbProxy.Tests.Structure;

/// <summary>
/// Which folder of LbProxy uses which, read from the source text. A file's node is its namespace below
/// <c>LbProxy</c> (<c>LbProxy.Health</c> → Health; the root namespace is node LbProxy; the global namespace,
/// where Program.cs lives, is node Program). Its edges come from <c>using LbProxy.X;</c> directives, from
/// qualified names <c>LbProxy.X.Something</c> in code, and from simple names of root-namespace types, which
/// every LbProxy namespace sees without a using.
/// </summary>
internal sealed partial class FolderGraph
{
    public const string Root = "LbProxy";
    public const string Global = "Program";

    private FolderGraph(SortedDictionary<string, SortedSet<string>> edges, SortedDictionary<string, SortedSet<string>> external)
    {
        Edges = edges;
        External = external;
    }

    /// <summary>Every node, with the nodes it uses (never itself).</summary>
    public IReadOnlyDictionary<string, SortedSet<string>> Edges { get; }

    /// <summary>Names under <c>LbProxy.</c> that are no node of this graph (another project), with the nodes that use them.</summary>
    public IReadOnlyDictionary<string, SortedSet<string>> External { get; }

    /// <summary>Reads every .cs file below <paramref name="projectDirectory"/>, leaving out bin/ and obj/.</summary>
    public static FolderGraph Read(string projectDirectory)
    {
        var sources = Directory.EnumerateFiles(projectDirectory, "*.cs", SearchOption.AllDirectories)
            .Where(path => !Path.GetRelativePath(projectDirectory, path).Split(Path.DirectorySeparatorChar).Any(static part => part is "bin" or "obj"))
            .Select(static path => File.ReadAllText(path));
        return FromSources(sources);
    }

    public static FolderGraph FromSources(IEnumerable<string> sources)
    {
        var files = sources.Select(static text => Code(text)).Select(static code => (Node: NodeOf(code), Code: WithoutNamespaceDeclarations(code))).ToList();
        var nodes = files.Select(static f => f.Node).ToHashSet(StringComparer.Ordinal);
        var rootTypes = files.Where(static f => f.Node == Root)
            .SelectMany(static f => TypeDeclaration().Matches(f.Code).Select(static m => m.Groups["name"].Value))
            .ToHashSet(StringComparer.Ordinal);

        var edges = new SortedDictionary<string, SortedSet<string>>(StringComparer.Ordinal);
        var external = new SortedDictionary<string, SortedSet<string>>(StringComparer.Ordinal);
        foreach (var node in nodes)
        {
            edges[node] = new SortedSet<string>(StringComparer.Ordinal);
        }

        foreach (var (node, code) in files)
        {
            var named = UsingDirective().Matches(code).Concat(QualifiedName().Matches(code)).Select(static m => m.Groups["name"].Value);
            foreach (var name in named)
            {
                var target = nodes.Contains(name) && name != Root && name != Global ? name : rootTypes.Contains(name) ? Root : null;
                if (target is null)
                {
                    (external.TryGetValue(name, out var users) ? users : external[name] = new(StringComparer.Ordinal)).Add(node);
                }
                else if (target != node)
                {
                    edges[node].Add(target);
                }
            }

            if (node != Root && node != Global && rootTypes.Any(type => Regex.IsMatch(code, $@"(?<![\w.]){type}\b")))
            {
                edges[node].Add(Root);
            }
        }

        return new FolderGraph(edges, external);
    }

    /// <summary>A cycle as its path (<c>[A, B, A]</c>), or null when there is none. Depth-first, in name order.</summary>
    public IReadOnlyList<string>? FindCycle()
    {
        var state = new Dictionary<string, bool>(StringComparer.Ordinal); // false: on the path now; true: done
        var path = new List<string>();

        List<string>? Visit(string node)
        {
            state[node] = false;
            path.Add(node);
            foreach (var next in Edges.TryGetValue(node, out var targets) ? targets : [])
            {
                if (!state.TryGetValue(next, out var done))
                {
                    if (Visit(next) is { } cycle)
                    {
                        return cycle;
                    }
                }
                else if (!done)
                {
                    return [.. path.Skip(path.IndexOf(next)), next];
                }
            }

            path.RemoveAt(path.Count - 1);
            state[node] = true;
            return null;
        }

        foreach (var node in Edges.Keys)
        {
            if (!state.ContainsKey(node) && Visit(node) is { } cycle)
            {
                return cycle;
            }
        }

        return null;
    }

    /// <summary>One line per node: <c>X -> Y, Z</c>.</summary>
    public override string ToString()
    {
        var text = new StringBuilder();
        foreach (var (node, targets) in Edges)
        {
            text.Append(node).Append(" -> ").AppendLine(targets.Count == 0 ? "(none)" : string.Join(", ", targets));
        }

        return text.ToString();
    }

    private static string NodeOf(string code)
    {
        var declared = NamespaceDeclaration().Match(code);
        if (!declared.Success)
        {
            return Global;
        }

        var parts = declared.Groups["name"].Value.Split('.');
        return parts[0] != Root ? declared.Groups["name"].Value : parts.Length == 1 ? Root : parts[1];
    }

    private static string WithoutNamespaceDeclarations(string code) => NamespaceDeclaration().Replace(code, "");

    /// <summary>The code without comments, string literals and character literals: what they say is no dependency.</summary>
    private static string Code(string text)
    {
        var code = new StringBuilder(text.Length);
        for (var i = 0; i < text.Length; i++)
        {
            if (Starts(text, i, "//"))
            {
                i = End(text, text.IndexOf('\n', i)) - 1;
            }
            else if (Starts(text, i, "/*"))
            {
                i = End(text, text.IndexOf("*/", i + 2, StringComparison.Ordinal)) + 1;
            }
            else if (RawQuotes(text, i) is { Length: > 0 } quotes)
            {
                var open = text.IndexOf(quotes, i, StringComparison.Ordinal);
                i = End(text, text.IndexOf(quotes, open + quotes.Length, StringComparison.Ordinal)) + quotes.Length - 1;
                code.Append("\"\"");
            }
            else if (Starts(text, i, "@\"") || Starts(text, i, "$@\"") || Starts(text, i, "@$\""))
            {
                i = text.IndexOf('"', i) + 1;
                while (i < text.Length && !(text[i] == '"' && !Starts(text, i, "\"\"")))
                {
                    i += Starts(text, i, "\"\"") ? 2 : 1;
                }

                code.Append("\"\"");
            }
            else if (text[i] is '"' or '\'')
            {
                var quote = text[i];
                for (i++; i < text.Length && text[i] != quote && text[i] != '\n'; i++)
                {
                    if (text[i] == '\\')
                    {
                        i++;
                    }
                }

                code.Append("\"\"");
            }
            else
            {
                code.Append(text[i]);
            }
        }

        return code.ToString();
    }

    /// <summary>The quotes that open a raw string literal (<c>"""</c>, after any <c>$</c>) at <paramref name="at"/>, or "".</summary>
    private static string RawQuotes(string text, int at)
    {
        while (at < text.Length && text[at] == '$')
        {
            at++;
        }

        var quotes = 0;
        while (at + quotes < text.Length && text[at + quotes] == '"')
        {
            quotes++;
        }

        return quotes >= 3 ? new string('"', quotes) : "";
    }

    private static bool Starts(string text, int at, string what) => string.CompareOrdinal(text, at, what, 0, what.Length) == 0;

    private static int End(string text, int found) => found < 0 ? text.Length : found;

    [GeneratedRegex(@"^\s*namespace\s+(?<name>[\w.]+)\s*[;{]", RegexOptions.Multiline)]
    private static partial Regex NamespaceDeclaration();

    [GeneratedRegex(@"^\s*(?:global\s+)?using\s+(?:static\s+)?(?:\w+\s*=\s*)?(?:global::)?LbProxy\.(?<name>\w+)", RegexOptions.Multiline)]
    private static partial Regex UsingDirective();

    [GeneratedRegex(@"(?<![\w.])(?:global::)?LbProxy\s*\.\s*(?<name>\w+)\s*\.")]
    private static partial Regex QualifiedName();

    [GeneratedRegex(@"\b(?:class|struct|record|interface|enum|delegate\s+\S+)\s+(?<name>\w+)")]
    private static partial Regex TypeDeclaration();
}
