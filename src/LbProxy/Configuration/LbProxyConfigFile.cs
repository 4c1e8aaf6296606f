using System.Text.Json;

namespace LbProxy.Configuration;

/// <summary>
/// The config file as read at start or on a reload: its bytes checked for JSON syntax and duplicate keys, and a map
/// from every config key to its line and column so that later errors can name their place.
/// </summary>
internal sealed class LbProxyConfigFile
{
    private static readonly JsonReaderOptions ReaderOptions = new()
    {
        CommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
    };

    /// <summary>The largest config file read: 16 MiB, some 50,000 routes; more is a mistake (a device, a log).</summary>
    public const long MaxBytes = 16 * 1024 * 1024;

    private readonly Dictionary<string, (int Line, int Column)> _positions;

    private LbProxyConfigFile(string path, byte[] content, Dictionary<string, (int Line, int Column)> positions)
    {
        FullPath = path;
        Content = content;
        _positions = positions;
    }

    public string FullPath { get; }

    public byte[] Content { get; }

    /// <summary>A short content hash: what status shows, and how an unchanged file is recognised.</summary>
    public string Hash => ConfigState.HashOf(Content);

    /// <summary>Reads and checks the file; throws <see cref="ConfigFileException"/> with every problem found.</summary>
    public static LbProxyConfigFile Load(string path) => Parse(path, Read(path));

    /// <summary>
    /// The file's bytes, at start and on every reload; throws <see cref="ConfigFileException"/> when it is missing
    /// or unreadable. Follows symlinks, so a Kubernetes ConfigMap mount (yarp.json -> ..data/yarp.json) reads the
    /// current target. Only a regular file of at most <see cref="MaxBytes"/>, within <see cref="BoundedFile.TimeBound"/>:
    /// a FIFO or a device at the path is refused without blocking or reading it.
    /// </summary>
    public static byte[] Read(string path)
    {
        try
        {
            return BoundedFile.Read(path, MaxBytes);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            var reason = e is FileNotFoundException or DirectoryNotFoundException ? "the config file is missing" : $"cannot read the config file: {e.Message}";
            throw new ConfigFileException([new ConfigError(path, null, null, null, reason)]);
        }
    }

    /// <summary>Checks content read elsewhere; throws <see cref="ConfigFileException"/> with every problem found.</summary>
    public static LbProxyConfigFile Parse(string path, byte[] content)
    {
        if (content.AsSpan().Trim(" \t\r\n"u8).IsEmpty)
        {
            throw new ConfigFileException([new ConfigError(path, null, null, null, "the config file is empty")]);
        }

        var errors = new List<ConfigError>();
        var positions = MapPositions(path, content, errors);
        if (errors.Count > 0)
        {
            throw new ConfigFileException(errors);
        }

        return new LbProxyConfigFile(path, content, positions);
    }

    /// <summary>The content as configuration keys and values, as the JSON configuration provider reads them.</summary>
    public IConfiguration ToConfiguration() => JsonConfigurationView.Parse(Content);

    /// <summary>An error placed at a config key (<c>ReverseProxy:Routes:images:ClusterId</c>), or at its nearest parent.</summary>
    public ConfigError ErrorAt(string key, string message)
    {
        for (var probe = key; probe.Length > 0; probe = probe[..Math.Max(0, probe.LastIndexOf(':'))])
        {
            if (_positions.TryGetValue(probe, out var position))
            {
                return new ConfigError(FullPath, position.Line, position.Column, key, message);
            }

            if (!probe.Contains(':', StringComparison.Ordinal))
            {
                break;
            }
        }

        return new ConfigError(FullPath, null, null, key, message);
    }

    private static Dictionary<string, (int Line, int Column)> MapPositions(string path, byte[] content, List<ConfigError> errors)
    {
        var positions = new Dictionary<string, (int Line, int Column)>(StringComparer.OrdinalIgnoreCase);
        var lineStarts = LineStarts(content);
        var frames = new Stack<Frame>();
        var reader = new Utf8JsonReader(content, ReaderOptions);
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                var start = PositionOf(lineStarts, reader.TokenStartIndex);
                errors.Add(new ConfigError(path, start.Line, start.Column, null, "the config file must hold a JSON object"));
                return positions;
            }

            frames.Push(new Frame("", isArray: false));
            while (reader.Read())
            {
                var position = PositionOf(lineStarts, reader.TokenStartIndex);
                switch (reader.TokenType)
                {
                    case JsonTokenType.PropertyName:
                        var frame = frames.Peek();
                        var name = reader.GetString()!;
                        var key = Join(frame.Path, name);
                        // The .NET JSON configuration parser also refuses these; saying where is kinder.
                        if (!frame.Names!.Add(name))
                        {
                            errors.Add(new ConfigError(path, position.Line, position.Column, key, $"duplicate key '{name}'"));
                        }

                        frame.Property = name;
                        positions[key] = position;
                        break;
                    case JsonTokenType.StartObject:
                    case JsonTokenType.StartArray:
                        var containerPath = NextValuePath(frames.Peek(), positions, position);
                        frames.Push(new Frame(containerPath, reader.TokenType == JsonTokenType.StartArray));
                        break;
                    case JsonTokenType.EndObject:
                    case JsonTokenType.EndArray:
                        frames.Pop();
                        break;
                    default:
                        NextValuePath(frames.Peek(), positions, position);
                        break;
                }
            }
        }
        catch (JsonException e)
        {
            var line = (int)(e.LineNumber ?? 0) + 1;
            var column = (int)(e.BytePositionInLine ?? 0) + 1;
            errors.Add(new ConfigError(path, line, column, null, $"invalid JSON: {WithoutPosition(e.Message)}"));
        }

        return positions;
    }

    private static string NextValuePath(Frame frame, Dictionary<string, (int Line, int Column)> positions, (int Line, int Column) position)
    {
        if (!frame.IsArray)
        {
            return Join(frame.Path, frame.Property ?? "");
        }

        var key = Join(frame.Path, (frame.Index++).ToString(System.Globalization.CultureInfo.InvariantCulture));
        positions[key] = position;
        return key;
    }

    private static string Join(string parent, string name) => parent.Length == 0 ? name : parent + ":" + name;

    private static string WithoutPosition(string message)
    {
        var cut = message.IndexOf(" LineNumber:", StringComparison.Ordinal);
        return cut < 0 ? message : message[..cut];
    }

    private static List<int> LineStarts(byte[] content)
    {
        var starts = new List<int> { 0 };
        for (var i = 0; i < content.Length; i++)
        {
            if (content[i] == (byte)'\n')
            {
                starts.Add(i + 1);
            }
        }

        return starts;
    }

    private static (int Line, int Column) PositionOf(List<int> lineStarts, long offset)
    {
        var index = lineStarts.BinarySearch((int)offset);
        var line = index >= 0 ? index : ~index - 1;
        return (line + 1, (int)offset - lineStarts[line] + 1);
    }

    private sealed class Frame(string path, bool isArray)
    {
        public string Path { get; } = path;

        public bool IsArray { get; } = isArray;

        public int Index { get; set; }

        public string? Property { get; set; }

        public HashSet<string>? Names { get; } = isArray ? null : new HashSet<string>(StringComparer.OrdinalIgnoreCase);
    }
}

/// <summary>Where the config file is: <c>--config PATH</c>, else <c>LBPROXY_CONFIG</c>, else <c>./yarp.json</c>.</summary>
internal static class ConfigFileLocator
{
    public const string CommandLineKey = "config";
    public const string EnvironmentVariable = "LBPROXY_CONFIG";
    public const string DefaultFileName = "yarp.json";

    public static string Resolve(IConfiguration configuration)
    {
        var path = configuration[CommandLineKey];
        if (string.IsNullOrWhiteSpace(path))
        {
            path = Environment.GetEnvironmentVariable(EnvironmentVariable);
        }

        if (string.IsNullOrWhiteSpace(path))
        {
            path = DefaultFileName;
        }

        return Path.GetFullPath(path);
    }
}
