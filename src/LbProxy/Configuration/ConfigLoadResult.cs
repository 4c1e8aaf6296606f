namespace LbProxy.Configuration;

/// <summary>A candidate that may be applied, or every error that refuses it.</summary>
internal sealed record ConfigLoadResult(ConfigCandidate? Candidate, IReadOnlyList<ConfigError> Errors)
{
    public bool Succeeded => Candidate is not null && Errors.Count == 0;
}
