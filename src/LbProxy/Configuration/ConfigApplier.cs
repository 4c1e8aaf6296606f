using Yarp.ReverseProxy.Configuration;

namespace LbProxy.Configuration;

/// <summary>
/// Applies a validated candidate in one step: the LbProxy options (through the live configuration source)
/// and YARP's routes and clusters (through its in-memory provider, which YARP applies atomically; requests
/// in flight finish on the route and cluster models they started with).
/// </summary>
internal sealed class ConfigApplier(LiveFileConfigurationSource live, InMemoryConfigProvider proxy, ConfigState state)
{
    private readonly Lock _lock = new();

    /// <summary>The config read at start; it is generation 1 and needs no options swap.</summary>
    public void ApplyInitial(ConfigCandidate candidate)
    {
        lock (_lock)
        {
            proxy.Update(candidate.Routes, candidate.Clusters);
        }
    }

    public ConfigStatus Apply(ConfigCandidate candidate)
    {
        lock (_lock)
        {
            live.Replace(candidate.Configuration);
            proxy.Update(candidate.Routes, candidate.Clusters);
            return state.RecordApplied(candidate.File.Hash);
        }
    }
}
