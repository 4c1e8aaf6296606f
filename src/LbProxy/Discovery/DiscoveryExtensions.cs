using LbProxy.Configuration;
using LbProxy.Control;
using Yarp.ReverseProxy.ServiceDiscovery;

namespace LbProxy.Discovery;

internal static class DiscoveryExtensions
{
    /// <summary>
    /// Destinations from DNS (<c>LbProxy:Discovery:Dns</c>). After <c>AddReverseProxy</c>: YARP registers its no-op
    /// resolver only if none is, and the last registration is the one its config manager takes.
    /// </summary>
    public static IServiceCollection AddLbProxyDiscovery(this IServiceCollection services)
    {
        services.AddLbProxyOptions<DnsDiscoveryOptions, DnsDiscoveryOptionsValidator>(DnsDiscoveryOptions.SectionName, static (section, options) => section.Bind(options));
        services.AddSingleton<DnsNames>();
        services.AddSingleton<IDestinationResolver, DnsDestinationResolver>();
        services.AddStatusSection<DnsNames, IReadOnlyList<DnsNameStatus>>("discovery", static names => names.Capture(), DiscoveryJsonContext.Default.IReadOnlyListDnsNameStatus);
        return services;
    }
}
