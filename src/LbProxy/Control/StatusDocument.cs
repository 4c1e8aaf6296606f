using System.Reflection;
using System.Text.Json;

namespace LbProxy.Control;

/// <summary>
/// The answer of <c>/_lb/status</c>: what Control knows itself (version, start, uptime, readiness), then every stage's
/// section by name, in ordinal order so that the document's shape does not depend on the order stages were registered.
/// </summary>
internal sealed class StatusDocument
{
    private static readonly string Version =
        typeof(StatusDocument).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";

    private readonly ProcessUptime _uptime;
    private readonly Readiness _readiness;
    private readonly IStatusSection[] _sections;

    public StatusDocument(ProcessUptime uptime, Readiness readiness, IEnumerable<IStatusSection> sections)
    {
        _uptime = uptime;
        _readiness = readiness;
        _sections = [.. sections.OrderBy(static s => s.Name, StringComparer.Ordinal)];
        if (_sections.GroupBy(static s => s.Name, StringComparer.OrdinalIgnoreCase).FirstOrDefault(static g => g.Count() > 1) is { } twice)
        {
            throw new InvalidOperationException($"two status sections are named {twice.Key}");
        }
    }

    /// <summary>The section names, in the order they are written.</summary>
    public IEnumerable<string> SectionNames => _sections.Select(static s => s.Name);

    /// <summary>Writes the whole document as one JSON object.</summary>
    public void Write(Utf8JsonWriter writer)
    {
        writer.WriteStartObject();
        writer.WriteString("version", Version);
        writer.WriteString("startedAt", _uptime.StartedAt);
        writer.WriteNumber("uptimeSeconds", _uptime.Elapsed.TotalSeconds);
        writer.WriteBoolean("ready", _readiness.IsReady);
        writer.WriteBoolean("draining", _readiness.IsDraining);
        foreach (var section in _sections)
        {
            writer.WritePropertyName(section.Name);
            section.WriteValue(writer);
        }

        writer.WriteEndObject();
    }
}
