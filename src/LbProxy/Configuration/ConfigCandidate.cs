using Yarp.ReverseProxy.Configuration;

namespace LbProxy.Configuration;

/// <summary>A config file parsed into what would be applied: YARP's routes and clusters and the keys for options.</summary>
internal sealed record ConfigCandidate(
    LbProxyConfigFile File,
    IConfiguration Configuration,
    IReadOnlyList<RouteConfig> Routes,
    IReadOnlyList<ClusterConfig> Clusters);
