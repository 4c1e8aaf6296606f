using LbProxy.Configuration;
using Microsoft.Extensions.Options;

namespace LbProxy.Discovery;

/// <summary>
/// Destinations from DNS: a destination whose <c>Address</c> names a host (a headless Service such as
/// <c>origins.images.svc.cluster.local</c>) stands for every address the name resolves to. Live on reload.
/// </summary>
internal sealed class DnsDiscoveryOptions
{
    public const string SectionName = "LbProxy:Discovery:Dns";

    /// <summary>
    /// How often each name is resolved again. 30 s by default, the TTL Kubernetes' CoreDNS gives a headless Service's
    /// records: a new origin pod takes traffic at most one period after its address is published.
    /// </summary>
    [TimeSpanRange("00:00:01", "01:00:00")]
    public TimeSpan RefreshPeriod { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// The clusters whose destinations are resolved; empty (the default) means all of them. A destination whose
    /// address is an IP literal, or <c>localhost</c>, is never resolved: it stays one destination, with its id.
    /// </summary>
    public List<string> Clusters { get; set; } = [];
}

[OptionsValidator]
internal sealed partial class DnsDiscoveryOptionsValidator : IValidateOptions<DnsDiscoveryOptions>;
