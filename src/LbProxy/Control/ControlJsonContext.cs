using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using LbProxy.Diagnostics;
using LbProxy.Logging;

namespace LbProxy.Control;

/// <summary>Source-generated JSON for the control endpoints: no reflection, camelCase, readable with curl.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, WriteIndented = true)]
[JsonSerializable(typeof(StatusReport))]
[JsonSerializable(typeof(LogLevelState))]
[JsonSerializable(typeof(RuntimeSnapshot))]
internal sealed partial class ControlJsonContext : JsonSerializerContext
{
    /// <summary>
    /// The same, without escaping '+' or quotes as \u00XX: these answers go to an operator's terminal, not into
    /// HTML, and a version such as 1.0.0+abc should read as written.
    /// </summary>
    public static ControlJsonContext Readable { get; } = new(new JsonSerializerOptions
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        WriteIndented = true,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    });
}
