namespace LbProxy.Configuration;

/// <summary>A stage's own check of a whole candidate config, run by <see cref="ProxyConfigValidator"/>.</summary>
internal interface IConfigCheck
{
    void Check(ConfigCandidate candidate, List<ConfigError> errors);
}
