using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json.Serialization;
using LbProxy.Metrics;

namespace LbProxy.Discovery;

/// <summary>
/// Every host name LbProxy resolves for destinations, with its last good addresses: a name that fails to resolve
/// keeps them (the failure is logged once, when it starts, and counted each time), so a DNS hiccup never empties a
/// cluster. <c>lbproxy_discovery_dns_failures_total{host}</c> counts failed resolutions,
/// <c>lbproxy_discovery_dns_addresses{host}</c> is the number of addresses in use.
/// </summary>
internal sealed partial class DnsNames
{
    public const string FailuresName = "lbproxy.discovery.dns.failures";
    public const string AddressesName = "lbproxy.discovery.dns.addresses";
    private const string HostTag = "host";

    /// <summary>
    /// A resolution that takes longer fails (and keeps the last addresses): glibc retries an unreachable server for
    /// 5 s per attempt, and every cluster's reload waits for its names.
    /// </summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5);

    private readonly Dictionary<string, NameState> _names = new(StringComparer.OrdinalIgnoreCase);
    private readonly Lock _lock = new();
    private readonly Counter<long> _failures;
    private readonly ILogger<DnsNames> _logger;
    private readonly Func<string, CancellationToken, Task<IPAddress[]>> _lookup;

    public DnsNames(IMeterFactory meterFactory, ILogger<DnsNames> logger)
        : this(meterFactory, logger, static (host, cancellationToken) => Dns.GetHostAddressesAsync(host, cancellationToken))
    {
    }

    /// <summary>With another lookup than the system resolver's (unit tests).</summary>
    internal DnsNames(IMeterFactory meterFactory, ILogger<DnsNames> logger, Func<string, CancellationToken, Task<IPAddress[]>> lookup)
    {
        _logger = logger;
        _lookup = lookup;
        var meter = meterFactory.Create(LbProxyMeter.Name);
        _failures = meter.CreateCounter<long>(FailuresName, unit: "{resolution}",
            description: "Failed DNS resolutions of destination host names; the name keeps its last good addresses.");
        meter.CreateObservableGauge(AddressesName, ObserveAddresses, unit: "{address}",
            description: "Addresses of each destination host name in use: the last good resolution.");
    }

    /// <summary>
    /// The name's addresses now, sorted (IPv4 before IPv6, then by value) so that the destinations they make are
    /// the same on every replica whatever order DNS returns; on failure the last good ones, empty when there never
    /// were any.
    /// </summary>
    public async Task<IPAddress[]> ResolveAsync(string host, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(Timeout);
        IPAddress[] found;
        try
        {
            found = await _lookup(host, timeout.Token).ConfigureAwait(false);
            found = [.. found
                .Select(static a => a.IsIPv4MappedToIPv6 ? a.MapToIPv4() : a)
                .Distinct()
                .OrderBy(static a => a.AddressFamily == AddressFamily.InterNetwork ? 0 : 1)
                .ThenBy(static a => a.ToString(), StringComparer.Ordinal)];
            if (found.Length == 0)
            {
                return Failed(host, "no address");
            }
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            return Failed(host, e is OperationCanceledException ? $"no answer in {Timeout.TotalSeconds:0} s" : e.Message);
        }

        return Succeeded(host, found);
    }

    public IReadOnlyList<DnsNameStatus> Capture()
    {
        lock (_lock)
        {
            return [.. _names.OrderBy(static n => n.Key, StringComparer.Ordinal).Select(static n => new DnsNameStatus(
                n.Key, [.. n.Value.Addresses.Select(static a => a.ToString())], n.Value.Failures, n.Value.Error))];
        }
    }

    private IPAddress[] Succeeded(string host, IPAddress[] addresses)
    {
        bool recovered, changed;
        lock (_lock)
        {
            var state = StateOf(host);
            recovered = state.Error is not null;
            changed = !state.Addresses.SequenceEqual(addresses);
            state.Addresses = addresses;
            state.Error = null;
        }

        if (recovered)
        {
            LogRecovered(_logger, host);
        }

        if (changed)
        {
            var list = string.Join(", ", addresses.Select(static a => a.ToString()));
            LogAddresses(_logger, host, addresses.Length, list);
        }

        return addresses;
    }

    private IPAddress[] Failed(string host, string error)
    {
        bool first;
        IPAddress[] kept;
        lock (_lock)
        {
            var state = StateOf(host);
            first = state.Error is null;
            state.Error = error;
            state.Failures++;
            kept = state.Addresses;
        }

        _failures.Add(1, new KeyValuePair<string, object?>(HostTag, host));
        if (first)
        {
            LogFailed(_logger, host, error, kept.Length);
        }

        return kept;
    }

    private NameState StateOf(string host)
    {
        if (!_names.TryGetValue(host, out var state))
        {
            state = new NameState();
            _names[host] = state;
        }

        return state;
    }

    private IEnumerable<Measurement<int>> ObserveAddresses()
    {
        lock (_lock)
        {
            return [.. _names.Select(static n => new Measurement<int>(n.Value.Addresses.Length, new KeyValuePair<string, object?>(HostTag, n.Key)))];
        }
    }

    private sealed class NameState
    {
        public IPAddress[] Addresses { get; set; } = [];

        public long Failures { get; set; }

        /// <summary>Why the last resolution failed; null when it succeeded.</summary>
        public string? Error { get; set; }
    }

    [LoggerMessage(EventId = LogEvents.DnsResolveFailed, Level = LogLevel.Warning,
        Message = "DNS name {Host} did not resolve ({Error}); keeping its last {Count} addresses until it does (logged once; counted in lbproxy_discovery_dns_failures_total)")]
    private static partial void LogFailed(ILogger logger, string host, string error, int count);

    [LoggerMessage(EventId = LogEvents.DnsResolveRecovered, Level = LogLevel.Information, Message = "DNS name {Host} resolves again")]
    private static partial void LogRecovered(ILogger logger, string host);

    [LoggerMessage(EventId = LogEvents.DnsAddressesChanged, Level = LogLevel.Information, Message = "DNS name {Host}: {Count} addresses ({Addresses})")]
    private static partial void LogAddresses(ILogger logger, string host, int count, string addresses);
}

/// <summary>One name in the <c>discovery</c> section of <c>/_lb/status</c>: its addresses in use and its failures.</summary>
internal sealed record DnsNameStatus(string Host, IReadOnlyList<string> Addresses, long Failures, string? Error);

/// <summary>Source-generated JSON of this stage's status section.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(IReadOnlyList<DnsNameStatus>))]
internal sealed partial class DiscoveryJsonContext : JsonSerializerContext;
