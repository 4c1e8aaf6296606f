using System.Diagnostics.CodeAnalysis;
using LbProxy.Tests.Infrastructure;
using Xunit.Abstractions;

[assembly: SuppressMessage("Naming", "CA1716:Identifiers should not match keywords", Scope = "namespace", Target = "~N:LbProxy.Tests.Structure",
    Justification = "A test assembly, never called from Visual Basic; the folder is named for what its tests check.")]

namespace LbProxy.Tests.Structure;

/// <summary>
/// The folders of src/LbProxy depend on each other one way only: a cycle would make two concepts one,
/// whatever their folders say.
/// </summary>
public sealed class FolderGraphTests(ITestOutputHelper output)
{
    private static readonly string Project = Path.Combine(RepositoryRoot.Path, "src", "LbProxy");

    [Fact]
    public void Read_Source_HasNoFolderCycle()
    {
        var graph = FolderGraph.Read(Project);
        output.WriteLine(graph.ToString());
        foreach (var (name, users) in graph.External)
        {
            output.WriteLine($"outside the graph: LbProxy.{name}, used by {string.Join(", ", users)}");
        }

        var cycle = graph.FindCycle();

        Assert.True(cycle is null, $"folder cycle: {string.Join(" -> ", cycle ?? [])}\n{graph}");
    }

    [Fact]
    public void Read_Source_SeesEveryFolderAndTheWiringOfHosting()
    {
        var graph = FolderGraph.Read(Project);
        var folders = Directory.EnumerateDirectories(Project)
            .Select(static d => Path.GetFileName(d))
            .Where(static name => name is not ("bin" or "obj" or "Properties"))
            .ToList();

        // Not vacuous: every folder is a node, Hosting wires every other one, and the root and Program are seen.
        Assert.True(graph.Edges.Count > 8, graph.ToString());
        Assert.Equal([.. folders.Append(FolderGraph.Root).Append(FolderGraph.Global).Order(StringComparer.Ordinal)], graph.Edges.Keys);
        Assert.Equal([.. folders.Where(static f => f != "Hosting").Order(StringComparer.Ordinal)], graph.Edges["Hosting"].Where(folders.Contains));
        Assert.Contains("Hosting", graph.Edges[FolderGraph.Global]);
        Assert.Contains(FolderGraph.Root, graph.Edges["Health"]); // LogEvents, seen without a using
    }

    [Fact]
    public void Read_Source_ControlKnowsAtMostThreeOtherFolders()
    {
        // The control plane is the common part of the /_lb endpoints, not a hub: stages map their own endpoints and
        // status sections through its contract, so they know Control and Control does not know them.
        var graph = FolderGraph.Read(Project);
        var known = graph.Edges["Control"].Where(static f => f is not (FolderGraph.Root or FolderGraph.Global)).ToList();

        Assert.True(known.Count <= 3, $"Control knows {known.Count} folders: {string.Join(", ", known)}");
    }

    [Fact]
    public void Read_Source_EveryFileDeclaresTheNamespaceOfItsFolder()
    {
        // The graph takes a file's folder from its namespace: the two must agree.
        var wrong = Directory.EnumerateFiles(Project, "*.cs", SearchOption.AllDirectories)
            .Select(path => Path.GetRelativePath(Project, path))
            .Where(static relative => relative.Split(Path.DirectorySeparatorChar)[0] is not ("bin" or "obj"))
            .Where(relative =>
            {
                var folder = Path.GetDirectoryName(relative)!;
                var expected = folder.Length == 0 ? "LbProxy" : "LbProxy." + folder.Replace(Path.DirectorySeparatorChar, '.');
                var text = File.ReadAllText(Path.Combine(Project, relative));
                return relative == "Program.cs"
                    ? text.Contains("namespace ", StringComparison.Ordinal)
                    : !text.Contains($"namespace {expected};", StringComparison.Ordinal);
            })
            .ToList();

        Assert.Empty(wrong);
    }

    [Fact]
    public void FromSources_UsingOneWayAndQualifiedNameTheOther_IsACycle()
    {
        var graph = FolderGraph.FromSources(
        [
            "using LbProxy.B;\nnamespace LbProxy.A;\ninternal sealed class One;",
            "namespace LbProxy.B;\ninternal sealed class Two { private LbProxy.A.One? _one; }",
            "namespace LbProxy.C;\ninternal sealed class Three;",
        ]);

        Assert.Equal(["A", "B", "A"], graph.FindCycle());
        Assert.Equal("A -> B\nB -> A\nC -> (none)\n", graph.ToString().ReplaceLineEndings("\n"));
    }

    [Fact]
    public void FromSources_NamesInCommentsAndStrings_AreNoEdges()
    {
        var graph = FolderGraph.FromSources(
        [
            "namespace LbProxy.A;\n// see LbProxy.B.Two\n/* LbProxy.B.Two */\ninternal sealed class One { string S = \"LbProxy.B.Two\"; string V = @\"LbProxy.B.\"\"Two\"; string R = \"\"\"\nLbProxy.B.Two\n\"\"\"; char C = '\"'; }",
            "using LbProxy.A;\nnamespace LbProxy.B;\ninternal sealed class Two;",
        ]);

        Assert.Null(graph.FindCycle());
        Assert.Empty(graph.Edges["A"]);
    }

    [Fact]
    public void FromSources_RootTypeUsedWithoutAUsing_IsAnEdgeToTheRoot()
    {
        var graph = FolderGraph.FromSources(
        [
            "namespace LbProxy;\ninternal static class Events { public const int X = 1; }",
            "namespace LbProxy.A;\ninternal sealed class One { int X = Events.X; }",
            "using LbProxy.A;\nusing LbProxy.SampleOrigin;\nSystem.Console.WriteLine();",
        ]);

        Assert.Equal(["LbProxy"], graph.Edges["A"]);
        Assert.Equal(["A"], graph.Edges[FolderGraph.Global]);
        Assert.Equal(["Program"], graph.External["SampleOrigin"]);
    }
}
