using System.Text.Json.Serialization;

namespace LbProxy.SampleOrigin;

/// <summary>What <c>/echo/...</c> returns: the request as the origin received it.</summary>
public sealed record EchoResponse(
    string Origin,
    string Method,
    string Path,
    string Query,
    IReadOnlyDictionary<string, string> Headers,
    string Body);

[JsonSerializable(typeof(EchoResponse))]
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
internal sealed partial class EchoJsonContext : JsonSerializerContext;
