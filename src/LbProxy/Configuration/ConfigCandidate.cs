using Yarp.ReverseProxy.Configuration;

namespace LbProxy.Configuration;

/// <summary>
/// A config file parsed into what would be applied: YARP's routes and clusters, the file's own keys, and the
/// effective configuration, which is those keys under the environment variables and command line as the
/// options will see them once applied. Every check reads options from <see cref="Effective"/>.
/// </summary>
internal sealed record ConfigCandidate(
    LbProxyConfigFile File,
    IConfiguration Configuration,
    IConfiguration Effective,
    IReadOnlyList<RouteConfig> Routes,
    IReadOnlyList<ClusterConfig> Clusters);

/// <summary>A candidate that may be applied, or every error that refuses it.</summary>
internal sealed record ConfigLoadResult(ConfigCandidate? Candidate, IReadOnlyList<ConfigError> Errors)
{
    public bool Succeeded => Candidate is not null && Errors.Count == 0;
}

/// <summary>
/// One check of a whole candidate config, run by <see cref="ProxyConfigValidator"/> at start, on every reload and
/// by <c>validate PATH</c>: each options section, and each stage's own check of routes, clusters and metadata.
/// </summary>
internal interface IConfigCheck
{
    void Check(ConfigCandidate candidate, List<ConfigError> errors);
}
