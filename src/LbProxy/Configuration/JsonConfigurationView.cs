using System.Text.Json;
using Microsoft.Extensions.FileProviders;
using Microsoft.Extensions.Primitives;

namespace LbProxy.Configuration;

/// <summary>
/// Read-only configuration over a parsed JSON document, with the keys and values the JSON configuration
/// provider would give. It exists for speed: the provider answers <c>GetChildren</c> by scanning every key of
/// the file, which makes YARP's parse of a 10,000-route config quadratic (15 s here); this walks the tree.
/// </summary>
internal sealed class JsonConfigurationView : IConfigurationSection
{
    private static readonly JsonDocumentOptions DocumentOptions = new()
    {
        CommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
    };

    private readonly JsonElement? _element;

    private JsonConfigurationView(JsonElement? element, string key, string path)
    {
        _element = element;
        Key = key;
        Path = path;
    }

    public string Key { get; }

    public string Path { get; }

    public string? Value
    {
        get => _element is { } element ? ValueOf(element) : null;
        set => throw new NotSupportedException("a config candidate is read-only");
    }

    public string? this[string key]
    {
        get => GetSection(key).Value;
        set => throw new NotSupportedException("a config candidate is read-only");
    }

    public static JsonConfigurationView Parse(byte[] content)
    {
        using var document = JsonDocument.Parse(content, DocumentOptions);
        return new JsonConfigurationView(document.RootElement.Clone(), "", "");
    }

    public IConfigurationSection GetSection(string key)
    {
        var element = _element;
        var path = Path;
        foreach (var segment in key.Split(ConfigurationPath.KeyDelimiter))
        {
            element = element is { } current ? Child(current, segment) : null;
            path = path.Length == 0 ? segment : path + ConfigurationPath.KeyDelimiter + segment;
        }

        return new JsonConfigurationView(element, ConfigurationPath.GetSectionKey(path), path);
    }

    public IEnumerable<IConfigurationSection> GetChildren()
    {
        if (_element is not { } element)
        {
            yield break;
        }

        if (element.ValueKind == JsonValueKind.Object)
        {
            foreach (var property in element.EnumerateObject())
            {
                yield return new JsonConfigurationView(property.Value, property.Name, Combine(property.Name));
            }
        }
        else if (element.ValueKind == JsonValueKind.Array)
        {
            var index = 0;
            foreach (var item in element.EnumerateArray())
            {
                var key = index++.ToString(System.Globalization.CultureInfo.InvariantCulture);
                yield return new JsonConfigurationView(item, key, Combine(key));
            }
        }
    }

    public IChangeToken GetReloadToken() => NullChangeToken.Singleton;

    private string Combine(string key) => Path.Length == 0 ? key : Path + ConfigurationPath.KeyDelimiter + key;

    private static JsonElement? Child(JsonElement element, string key)
    {
        if (element.ValueKind == JsonValueKind.Object)
        {
            foreach (var property in element.EnumerateObject())
            {
                if (string.Equals(property.Name, key, StringComparison.OrdinalIgnoreCase))
                {
                    return property.Value;
                }
            }
        }
        else if (element.ValueKind == JsonValueKind.Array && int.TryParse(key, out var index) && index >= 0 && index < element.GetArrayLength())
        {
            return element[index];
        }

        return null;
    }

    /// <summary>As the JSON configuration provider: strings as they are, numbers as written, booleans as True/False, null as empty.</summary>
    private static string? ValueOf(JsonElement element) => element.ValueKind switch
    {
        JsonValueKind.String => element.GetString(),
        JsonValueKind.Number => element.GetRawText(),
        JsonValueKind.True => bool.TrueString,
        JsonValueKind.False => bool.FalseString,
        JsonValueKind.Null => "",
        _ => null,
    };
}
