using System.Text.Json.Serialization;
using LbProxy.Configuration;

namespace LbProxy.Control;

/// <summary>Source-generated JSON for what Control itself shows: no reflection, camelCase (see <see cref="ControlJson"/>).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(ConfigStatus))]
internal sealed partial class ControlJsonContext : JsonSerializerContext;
