namespace LbProxy.Configuration;

/// <summary>One problem in the config file, with its place: a line and column when known, and the config key.</summary>
internal sealed record ConfigError(string File, int? Line, int? Column, string? Key, string Message)
{
    /// <summary>Compiler style, so editors and CI logs can jump to it: <c>yarp.json:7:9: Key: message</c>.</summary>
    public override string ToString()
    {
        var place = Line is { } line ? $"{File}:{line}:{Column ?? 1}" : File;
        return Key is null ? $"{place}: {Message}" : $"{place}: {Key}: {Message}";
    }
}

/// <summary>The config file cannot be used at all: missing, empty, or not JSON.</summary>
internal sealed class ConfigFileException(IReadOnlyList<ConfigError> errors)
    : Exception(string.Join(Environment.NewLine, errors))
{
    public IReadOnlyList<ConfigError> Errors { get; } = errors;
}
