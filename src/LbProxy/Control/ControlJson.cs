using System.Buffers;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace LbProxy.Control;

/// <summary>
/// The shared JSON conventions of the control endpoints: indented and readable with curl, without escaping '+' or
/// quotes as \u00XX (these answers go to an operator's terminal, not into HTML, and a version such as 1.0.0+abc
/// should read as written). A stage's source-generated context adds camelCase names
/// (<c>[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]</c>); indentation and
/// escaping are the writer's, set here once.
/// </summary>
internal static class ControlJson
{
    public const string ContentType = "application/json; charset=utf-8";

    public static readonly JsonWriterOptions WriterOptions = new()
    {
        Indented = true,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>Answers with <paramref name="value"/> as JSON, its length known before the first byte.</summary>
    public static Task WriteAsync<T>(HttpContext context, T value, JsonTypeInfo<T> typeInfo) =>
        WriteAsync(context, writer => JsonSerializer.Serialize(writer, value, typeInfo));

    /// <summary>Answers with what <paramref name="write"/> writes, its length known before the first byte.</summary>
    public static Task WriteAsync(HttpContext context, Action<Utf8JsonWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>(4096);
        using (var writer = new Utf8JsonWriter(buffer, WriterOptions))
        {
            write(writer);
        }

        var response = context.Response;
        response.ContentType = ContentType;
        response.ContentLength = buffer.WrittenCount;
        return response.Body.WriteAsync(buffer.WrittenMemory).AsTask();
    }
}
