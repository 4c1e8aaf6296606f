using LbProxy.Configuration;
using LbProxy.Control;
using LbProxy.Metrics;
using Yarp.ReverseProxy;

namespace LbProxy.Health;

internal static class HealthExtensions
{
    public static IServiceCollection AddLbProxyHealth(this IServiceCollection services)
    {
        services.AddLbProxyOptions<HealthOptions, HealthOptionsValidator>(HealthOptions.SectionName, static (section, options) => section.Bind(options));
        services.AddSingleton<IConfigCheck, OutlierEjectionConfigCheck>();
        RefusedConnectionPolicy.Decorate(services); // a refused connection takes its destination out at once
        services.AddSingleton<OutlierEjectionMetrics>();
        services.AddSingleton<IStatusSection>(static sp => new StatusSection<IReadOnlyList<ClusterStatus>>(
            "clusters",
            () => ClusterStatus.Capture(sp.GetRequiredService<IProxyStateLookup>(), sp.GetRequiredService<LiveTraffic>()),
            HealthJsonContext.Default.IReadOnlyListClusterStatus));
        services.AddSingleton<IClusterSeries>(static sp => sp.GetRequiredService<OutlierEjectionMetrics>());
        return services;
    }

    /// <summary>A 503 with <c>Retry-After</c> and the cluster's name when no destination is healthy.</summary>
    public static IReverseProxyApplicationBuilder UseNoHealthyDestinationAnswer(this IReverseProxyApplicationBuilder proxy)
    {
        proxy.UseMiddleware<NoHealthyDestinationMiddleware>();
        return proxy;
    }

    /// <summary>Ejects destinations that answer 5xx in a row, where a cluster asks for it in its metadata.</summary>
    public static IReverseProxyApplicationBuilder UseOutlierEjection(this IReverseProxyApplicationBuilder proxy)
    {
        proxy.UseMiddleware<OutlierEjectionMiddleware>();
        return proxy;
    }
}
