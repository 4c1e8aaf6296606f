namespace LbProxy.Configuration;

/// <summary>Checks one options section of a candidate config before it is applied.</summary>
internal interface IOptionsCheck
{
    void Check(ConfigCandidate candidate, List<ConfigError> errors);
}
