using System.Net;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;
using Yarp.ReverseProxy.Configuration;
using Yarp.ReverseProxy.ServiceDiscovery;

namespace LbProxy.Discovery;

/// <summary>
/// YARP's destination resolver extension point, LbProxy's way. A destination whose address names a host becomes one
/// destination per address the name resolves to, with the id <c>{id}[{address}]</c>: consistent hashing ranks by
/// destination id, so replicas agree on where a key goes whatever order their resolvers return, and a key moves only
/// when its own address comes or goes. The original host stays the request's <c>Host</c> (and so the TLS server
/// name the upstream client sends and checks), unless the destination sets its own <c>Host</c>; the health address
/// is moved to the same address, so health is per address. Not YARP's <c>AddDnsDestinationResolver</c>: it renames
/// IP-literal destinations too, and a failed name fails the whole cluster's load, where here it keeps its last
/// addresses (<see cref="DnsNames"/>).
/// <para>
/// YARP calls this on every load of the config, and again when the returned change token fires: at the end of
/// <see cref="DnsDiscoveryOptions.RefreshPeriod"/>, or at once when the options change. A name that never resolved
/// leaves its destination as written (it fails at connect time, visibly, and health checks take it out).
/// </para>
/// </summary>
internal sealed class DnsDestinationResolver : IDestinationResolver, IDisposable
{
    private readonly IOptionsMonitor<DnsDiscoveryOptions> _options;
    private readonly IEnumerable<IProxyConfigProvider> _providers;
    private readonly DnsNames _names;
    private readonly IDisposable? _onChange;
    private readonly Lock _lock = new();
    private CancellationTokenSource _refresh = CancelledSource();
    private (TimeSpan Period, string Clusters) _applied;

    public DnsDestinationResolver(IOptionsMonitor<DnsDiscoveryOptions> options, IEnumerable<IProxyConfigProvider> providers, DnsNames names)
    {
        _options = options;
        _providers = providers;
        _names = names;
        _applied = Key(options.CurrentValue);
        _onChange = options.OnChange(OptionsChanged);
    }

    public async ValueTask<ResolvedDestinationCollection> ResolveDestinationsAsync(
        IReadOnlyDictionary<string, DestinationConfig> destinations, CancellationToken cancellationToken)
    {
        var options = _options.CurrentValue;
        var refresh = RefreshToken(options.RefreshPeriod);
        var named = new List<(string Id, DestinationConfig Config, Uri Address)>();
        foreach (var (id, config) in destinations)
        {
            if (Uri.TryCreate(config.Address, UriKind.Absolute, out var address) && NamesAHost(address))
            {
                named.Add((id, config, address));
            }
        }

        if (named.Count == 0 || !Applies(options, destinations))
        {
            return new ResolvedDestinationCollection(destinations, refresh);
        }

        var hosts = named.Select(static n => n.Address.IdnHost).Distinct(StringComparer.OrdinalIgnoreCase).ToList();
        var lookups = hosts.Select(host => _names.ResolveAsync(host, cancellationToken)).ToList();
        await Task.WhenAll(lookups).ConfigureAwait(false);
        var addresses = new Dictionary<string, IPAddress[]>(StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i < hosts.Count; i++)
        {
            addresses[hosts[i]] = await lookups[i].ConfigureAwait(false);
        }

        var resolved = new Dictionary<string, DestinationConfig>(StringComparer.OrdinalIgnoreCase);
        foreach (var (id, config) in destinations)
        {
            var entry = named.FindIndex(n => n.Id == id);
            if (entry < 0 || addresses[named[entry].Address.IdnHost] is not { Length: > 0 } found)
            {
                resolved[id] = config;
                continue;
            }

            foreach (var address in found)
            {
                resolved[$"{id}[{address}]"] = Expand(config, named[entry].Address, address);
            }
        }

        return new ResolvedDestinationCollection(resolved, refresh);
    }

    /// <summary>The destination at one of its name's addresses; everything else as configured.</summary>
    internal static DestinationConfig Expand(DestinationConfig config, Uri named, IPAddress address)
    {
        var host = address.ToString();
        var health = config.Health;
        if (Uri.TryCreate(health, UriKind.Absolute, out var healthUri)
            && string.Equals(healthUri.IdnHost, named.IdnHost, StringComparison.OrdinalIgnoreCase))
        {
            health = new UriBuilder(healthUri) { Host = host }.Uri.ToString();
        }

        return config with
        {
            Address = new UriBuilder(named) { Host = host }.Uri.ToString(),
            Health = health,
            Host = config.Host is { Length: > 0 } own ? own : named.Authority,
        };
    }

    /// <summary>
    /// A host name, not an IP literal; <c>localhost</c> is left to the connect, which tries each of its addresses,
    /// rather than made two destinations of one process.
    /// </summary>
    internal static bool NamesAHost(Uri address) =>
        address.HostNameType == UriHostNameType.Dns && !address.IsLoopback;

    public void Dispose() => _onChange?.Dispose();

    /// <summary>
    /// Whether the cluster these destinations belong to is one to resolve. YARP passes the destinations only; the
    /// cluster is the one of the current config that holds this very dictionary.
    /// </summary>
    private bool Applies(DnsDiscoveryOptions options, IReadOnlyDictionary<string, DestinationConfig> destinations)
    {
        if (options.Clusters.Count == 0)
        {
            return true;
        }

        foreach (var provider in _providers)
        {
            foreach (var cluster in provider.GetConfig().Clusters)
            {
                if (ReferenceEquals(cluster.Destinations, destinations))
                {
                    return options.Clusters.Contains(cluster.ClusterId, StringComparer.OrdinalIgnoreCase);
                }
            }
        }

        return false;   // a config replaced meanwhile: its own load follows at once, and decides
    }

    /// <summary>One token for every cluster of a load, so the whole config is resolved again once a period.</summary>
    private CancellationChangeToken RefreshToken(TimeSpan period)
    {
        lock (_lock)
        {
            if (_refresh.IsCancellationRequested)
            {
                _refresh = new CancellationTokenSource(period);
            }

            return new CancellationChangeToken(_refresh.Token);
        }
    }

    private void OptionsChanged(DnsDiscoveryOptions options)
    {
        CancellationTokenSource toCancel;
        lock (_lock)
        {
            var key = Key(options);
            if (key == _applied)
            {
                return;
            }

            _applied = key;
            toCancel = _refresh;
        }

        toCancel.Cancel();   // outside the lock: YARP's reload runs from this callback and asks for a new token
    }

    private static (TimeSpan, string) Key(DnsDiscoveryOptions options) =>
        (options.RefreshPeriod, string.Join('\n', options.Clusters));

    private static CancellationTokenSource CancelledSource()
    {
        var source = new CancellationTokenSource();
        source.Cancel();
        return source;
    }
}
