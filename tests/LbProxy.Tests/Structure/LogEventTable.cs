using System.Text.RegularExpressions;

namespace LbProxy.Tests.Structure;

/// <summary>
/// The event-id table of <c>src/LbProxy/LogEvents.cs</c> as its text declares it: bands (<c>// FROM-TO Folder: ...</c>)
/// and the ids under each, and what is wrong with it and with the sources that log its ids.
/// </summary>
internal sealed partial class LogEventTable
{
    private LogEventTable(IReadOnlyList<Band> bands, IReadOnlyList<Event> events)
    {
        Bands = bands;
        Events = events;
    }

    public IReadOnlyList<Band> Bands { get; }

    /// <summary>Every constant of the table, with the band it is declared under (null: above every band).</summary>
    public IReadOnlyList<Event> Events { get; }

    public static LogEventTable Parse(string text)
    {
        var bands = new List<Band>();
        var events = new List<Event>();
        foreach (var line in text.Split('\n'))
        {
            if (BandLine().Match(line) is { Success: true } band)
            {
                bands.Add(new Band(int.Parse(band.Groups["from"].Value), int.Parse(band.Groups["to"].Value), band.Groups["folder"].Value));
            }
            else if (ConstantLine().Match(line) is { Success: true } constant)
            {
                events.Add(new Event(constant.Groups["name"].Value, int.Parse(constant.Groups["id"].Value), bands.LastOrDefault()));
            }
        }

        return new LogEventTable(bands, events);
    }

    /// <summary>What is wrong with the table itself: ids taken twice, ids outside their band, bands that overlap or share a folder.</summary>
    public IEnumerable<string> TableProblems()
    {
        foreach (var taken in Events.GroupBy(static e => e.Id).Where(static g => g.Count() > 1))
        {
            yield return $"id {taken.Key} is taken by {string.Join(" and ", taken.Select(static e => e.Name))}";
        }

        foreach (var e in Events.Where(static e => e.Band is null || e.Id < e.Band.From || e.Id > e.Band.To))
        {
            yield return e.Band is null
                ? $"{e.Name} = {e.Id} is declared under no band"
                : $"{e.Name} = {e.Id} is outside the band it is declared under, {e.Band}";
        }

        foreach (var band in Bands.Where(static b => b.From > b.To))
        {
            yield return $"band {band} ends before it starts";
        }

        for (var i = 0; i < Bands.Count; i++)
        {
            for (var j = i + 1; j < Bands.Count; j++)
            {
                if (Bands[i].From <= Bands[j].To && Bands[j].From <= Bands[i].To)
                {
                    yield return $"bands {Bands[i]} and {Bands[j]} overlap";
                }
            }
        }

        foreach (var shared in Bands.GroupBy(static b => b.Folder, StringComparer.Ordinal).Where(static g => g.Count() > 1))
        {
            yield return $"{shared.Key} has {shared.Count()} bands: one band per folder";
        }
    }

    /// <summary>
    /// What is wrong with the ids a folder's code logs: an event id that is no constant of the table, or an id of
    /// another folder's band. <paramref name="sources"/> are (folder, file text) pairs.
    /// </summary>
    public IEnumerable<string> UseProblems(IEnumerable<(string Folder, string Text)> sources)
    {
        var byName = Events.ToDictionary(static e => e.Name, StringComparer.Ordinal);
        foreach (var (folder, text) in sources)
        {
            foreach (Match use in EventIdUse().Matches(text))
            {
                var name = use.Groups["name"].Value;
                if (!use.Groups["name"].Success)
                {
                    yield return $"{folder}: an event id not taken from LogEvents: {use.Value}";
                }
                else if (!byName.TryGetValue(name, out var e))
                {
                    yield return $"{folder}: LogEvents.{name} is no constant of the table";
                }
                else if (e.Band?.Folder != folder)
                {
                    yield return $"{folder} logs LogEvents.{name} = {e.Id}, an id of {(e.Band is null ? "no band" : e.Band.ToString())}";
                }
            }
        }
    }

    /// <summary>A band's declaration: <c>// 2000-2999 AccessLog: ...</c>.</summary>
    [GeneratedRegex(@"^\s*//\s*(?<from>\d+)-(?<to>\d+) (?<folder>[A-Z]\w*):")]
    private static partial Regex BandLine();

    [GeneratedRegex(@"^\s*public const int (?<name>\w+) = (?<id>\d+);")]
    private static partial Regex ConstantLine();

    /// <summary>An event id given to a logger message or built: from the table (<c>LogEvents.X</c>) or not.</summary>
    [GeneratedRegex(@"(?:\bEventId\s*=|\bnew EventId\()\s*(?:LogEvents\.(?<name>\w+)|[^,)\s]+)")]
    private static partial Regex EventIdUse();

    public sealed record Band(int From, int To, string Folder)
    {
        public override string ToString() => $"{From}-{To} {Folder}";
    }

    public sealed record Event(string Name, int Id, Band? Band);
}
