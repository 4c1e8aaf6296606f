using System.Text.Json.Serialization;

namespace LbProxy.AccessLog;

/// <summary>Source-generated JSON of this stage's status section (camelCase; the writer's conventions are Control's).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(AccessLogStatus))]
internal sealed partial class AccessLogJsonContext : JsonSerializerContext;
