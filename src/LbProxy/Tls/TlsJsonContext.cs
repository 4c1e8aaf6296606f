using System.Text.Json.Serialization;

namespace LbProxy.Tls;

/// <summary>Source-generated JSON of this stage's status section (camelCase; the writer's conventions are Control's).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(IReadOnlyList<CertificateDescription>))]
internal sealed partial class TlsJsonContext : JsonSerializerContext;
