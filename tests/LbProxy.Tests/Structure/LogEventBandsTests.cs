using System.Reflection;
using LbProxy.Tests.Infrastructure;

namespace LbProxy.Tests.Structure;

/// <summary>
/// Event ids name their stage: each folder of src/LbProxy logs ids of its own band of <c>LogEvents</c> only, bands
/// never overlap, and no id is taken twice. An id found in a log line then says where to look.
/// </summary>
public sealed class LogEventBandsTests
{
    private static readonly string Project = Path.Combine(RepositoryRoot.Path, "src", "LbProxy");

    private static LogEventTable Table() => LogEventTable.Parse(File.ReadAllText(Path.Combine(Project, "LogEvents.cs")));

    [Fact]
    public void LogEvents_Parsed_IsEveryConstantOfTheCompiledTable()
    {
        // Not vacuous: the text the other checks read is the table the program logs with.
        var compiled = typeof(LogEvents).GetFields(BindingFlags.Public | BindingFlags.Static)
            .Where(static f => f.IsLiteral)
            .ToDictionary(static f => f.Name, static f => (int)f.GetRawConstantValue()!);

        var parsed = Table().Events.ToDictionary(static e => e.Name, static e => e.Id);

        Assert.True(compiled.Count > 20, $"{compiled.Count} constants");
        Assert.Equal(compiled.OrderBy(static p => p.Key), parsed.OrderBy(static p => p.Key));
    }

    [Fact]
    public void LogEvents_Table_IdsAreUniqueInsideTheirBandsAndBandsNeverOverlap()
    {
        var problems = Table().TableProblems().ToList();

        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    [Fact]
    public void LogEvents_Bands_AreFoldersOfTheProject()
    {
        var folders = Directory.EnumerateDirectories(Project).Select(static d => Path.GetFileName(d)).ToHashSet(StringComparer.Ordinal);

        var table = Table();

        Assert.True(table.Bands.Count > 8, string.Join(", ", table.Bands));
        Assert.All(table.Bands, band => Assert.Contains(band.Folder, folders));
    }

    [Fact]
    public void Sources_EachFolder_LogsOnlyIdsOfItsOwnBand()
    {
        var sources = Directory.EnumerateFiles(Project, "*.cs", SearchOption.AllDirectories)
            .Select(path => Path.GetRelativePath(Project, path).Split(Path.DirectorySeparatorChar))
            .Where(static parts => parts.Length > 1 && parts[0] is not ("bin" or "obj"))
            .Select(parts => (Folder: parts[0], Text: File.ReadAllText(Path.Combine([Project, .. parts]))))
            .ToList();

        var table = Table();

        // Not vacuous: most folders log, and the uses are seen.
        Assert.True(sources.Count(static s => s.Text.Contains("EventId = LogEvents.", StringComparison.Ordinal)) > 15);
        var problems = table.UseProblems(sources).ToList();
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    [Fact]
    public void TableProblems_IdTakenTwiceOutsideItsBandOrOverlappingBands_AreEachReported()
    {
        var table = LogEventTable.Parse("""
            public const int Stray = 1;
            // 1000-1999 A: one.
            public const int One = 1001;
            public const int Two = 1001;
            public const int Far = 2500;
            // 1500-2499 B: two.
            public const int Three = 1600;
            // 3000-3999 A: again.
            """);

        var problems = table.TableProblems().ToList();

        Assert.Contains("id 1001 is taken by One and Two", problems);
        Assert.Contains("Stray = 1 is declared under no band", problems);
        Assert.Contains("Far = 2500 is outside the band it is declared under, 1000-1999 A", problems);
        Assert.Contains("bands 1000-1999 A and 1500-2499 B overlap", problems);
        Assert.Contains("A has 2 bands: one band per folder", problems);
        Assert.Equal(5, problems.Count);
    }

    [Fact]
    public void UseProblems_IdOfAnotherBandUnknownOrLiteral_AreEachReported()
    {
        var table = LogEventTable.Parse("""
            // 1000-1999 A: one.
            public const int One = 1001;
            // 2000-2999 B: two.
            public const int Two = 2001;
            """);

        var problems = table.UseProblems(
        [
            ("A", "[LoggerMessage(EventId = LogEvents.One, Level = LogLevel.Debug)]"),
            ("A", "[LoggerMessage(EventId = LogEvents.Two, Level = LogLevel.Debug)]"),
            ("B", "logger.Log(LogLevel.Information, new EventId(LogEvents.Gone), \"x\");"),
            ("B", "[LoggerMessage(EventId = 2002, Level = LogLevel.Debug)]"),
        ]).ToList();

        Assert.Equal(
        [
            "A logs LogEvents.Two = 2001, an id of 2000-2999 B",
            "B: LogEvents.Gone is no constant of the table",
            "B: an event id not taken from LogEvents: EventId = 2002",
        ], problems);
    }
}
