using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace LbProxy.Control;

/// <summary>
/// One named part of <c>/_lb/status</c> (and of the live page's data), contributed by the stage that owns what it
/// shows. Registered with <see cref="ControlServiceCollectionExtensions.AddStatusSection{TSource, TValue}"/>.
/// </summary>
internal interface IStatusSection
{
    /// <summary>The property's name in the status document, camelCase.</summary>
    string Name { get; }

    /// <summary>Writes the property's value (an object, an array or a scalar), read at this moment.</summary>
    void WriteValue(Utf8JsonWriter writer);
}

/// <summary>A section whose value is read from a service and written with source-generated JSON (no reflection).</summary>
internal sealed class StatusSection<TValue>(string name, Func<TValue> capture, JsonTypeInfo<TValue> typeInfo) : IStatusSection
{
    public string Name { get; } = name;

    public void WriteValue(Utf8JsonWriter writer) => JsonSerializer.Serialize(writer, capture(), typeInfo);
}
