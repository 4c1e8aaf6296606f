namespace LbProxy.Configuration;

/// <summary>The config file cannot be used at all: missing, empty, or not JSON.</summary>
internal sealed class ConfigFileException(IReadOnlyList<ConfigError> errors)
    : Exception(string.Join(Environment.NewLine, errors))
{
    public IReadOnlyList<ConfigError> Errors { get; } = errors;
}
