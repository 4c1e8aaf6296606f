using System.Collections.Concurrent;
using System.Collections.Frozen;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Runtime.CompilerServices;
using Yarp.ReverseProxy.Configuration;

namespace LbProxy.Metrics;

/// <summary>
/// The route, cluster and destination ids of the config YARP applied last: the only ids a per-cluster series may
/// carry. Before the first config is applied (an instrument used on its own, as in a unit test) every id counts
/// as configured.
/// </summary>
internal sealed class ConfiguredIds
{
    /// <summary>No config applied yet: nothing is filtered.</summary>
    public static readonly ConfiguredIds Unknown = new([], [], null, null, null);

    private readonly FrozenSet<string>? _routes;
    private readonly FrozenSet<string>? _clusters;
    private readonly FrozenSet<(string Cluster, string Destination)>? _destinations;

    private ConfiguredIds(
        IReadOnlyList<RouteConfig> routeConfigs,
        IReadOnlyList<ClusterConfig> clusters,
        FrozenSet<string>? routes,
        FrozenSet<string>? clusterIds,
        FrozenSet<(string, string)>? destinations)
    {
        Routes = routeConfigs;
        Clusters = clusters;
        _routes = routes;
        _clusters = clusterIds;
        _destinations = destinations;
    }

    /// <summary>Every configured cluster, for the series that start at 0.</summary>
    public IReadOnlyList<ClusterConfig> Clusters { get; }

    /// <summary>Every configured route, for the series that start at 0 (those of cached routes).</summary>
    public IReadOnlyList<RouteConfig> Routes { get; }

    public static ConfiguredIds From(IReadOnlyList<IProxyConfig> configs) =>
        From([.. configs.SelectMany(static c => c.Routes)], [.. configs.SelectMany(static c => c.Clusters)]);

    public static ConfiguredIds From(IReadOnlyList<RouteConfig> routes, IReadOnlyList<ClusterConfig> clusters)
    {
        var destinations = clusters
            .SelectMany(static c => (c.Destinations ?? new Dictionary<string, DestinationConfig>()).Keys.Select(d => (c.ClusterId, d)))
            .ToFrozenSet();
        return new ConfiguredIds(
            routes,
            clusters,
            routes.Select(static r => r.RouteId).ToFrozenSet(StringComparer.Ordinal),
            clusters.Select(static c => c.ClusterId).ToFrozenSet(StringComparer.Ordinal),
            destinations);
    }

    public bool HasRoute(string routeId) => _routes is null || _routes.Contains(routeId);

    /// <summary>A cluster of the config; the empty id (a request that names no cluster) always is.</summary>
    public bool HasCluster(string clusterId) => _clusters is null || clusterId.Length == 0 || _clusters.Contains(clusterId);

    /// <summary>A destination of the cluster; the empty id (a request that reached no destination) is as its cluster.</summary>
    public bool HasDestination(string clusterId, string destinationId) =>
        destinationId.Length == 0 ? HasCluster(clusterId) : _destinations is null || _destinations.Contains((clusterId, destinationId));
}

/// <summary>The tags of one series of a <see cref="ConfiguredCounter{TKey}"/>, and whether the config still names them.</summary>
internal interface IConfiguredSeriesKey
{
    bool IsConfiguredIn(ConfiguredIds ids);

    TagList Tags();
}

/// <summary>
/// A cumulative counter whose series name config ids (cluster, destination, route), exported only while the
/// config still has them. The counts live here and the instrument is observed at each scrape, so a series of a
/// removed cluster leaves <c>/metrics</c> at the next scrape and the others go on counting, with no reset. A
/// synchronous <c>Counter</c> cannot do this: OpenTelemetry exports every series it ever saw until the process
/// ends. Per request: one dictionary lookup and one interlocked add, no allocation once the series exists.
/// </summary>
internal sealed class ConfiguredCounter<TKey>
    where TKey : struct, IEquatable<TKey>, IConfiguredSeriesKey
{
    private readonly ConcurrentDictionary<TKey, StrongBox<long>> _counts = new();
    private readonly ObservableCounter<long> _instrument;
    private volatile ConfiguredIds _ids = ConfiguredIds.Unknown;

    public ConfiguredCounter(Meter meter, string name, string unit, string description)
    {
        _instrument = meter.CreateObservableCounter(name, Observe, unit, description);
    }

    /// <summary>False while no exporter listens: callers then skip building keys.</summary>
    public bool Enabled => _instrument.Enabled;

    public void Add(in TKey key, long count = 1)
    {
        var cell = _counts.GetOrAdd(key, static _ => new StrongBox<long>());
        Interlocked.Add(ref cell.Value, count);
    }

    /// <summary>Creates the series at 0 if it does not exist: it is then on <c>/metrics</c> before its first event.</summary>
    public void Start(in TKey key) => _counts.GetOrAdd(key, static _ => new StrongBox<long>());

    /// <summary>Takes the ids of a newly applied config and forgets the series it no longer names; returns those.</summary>
    public List<TKey> Configure(ConfiguredIds ids)
    {
        _ids = ids;
        var removed = new List<TKey>();
        foreach (var key in _counts.Keys)
        {
            if (!key.IsConfiguredIn(ids) && _counts.TryRemove(key, out _))
            {
                removed.Add(key);
            }
        }

        return removed;
    }

    private List<Measurement<long>> Observe()
    {
        // A request in flight across a reload may add a series of a removed cluster after Configure: it is skipped
        // here and forgotten at the next reload.
        var ids = _ids;
        var measurements = new List<Measurement<long>>(_counts.Count);
        foreach (var (key, cell) in _counts)
        {
            if (key.IsConfiguredIn(ids))
            {
                measurements.Add(new Measurement<long>(Volatile.Read(ref cell.Value), key.Tags()));
            }
        }

        return measurements;
    }
}
