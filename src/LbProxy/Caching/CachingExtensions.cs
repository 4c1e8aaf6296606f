using LbProxy.Configuration;
using LbProxy.Control;
using LbProxy.Metrics;

namespace LbProxy.Caching;

internal static class CachingExtensions
{
    public static IServiceCollection AddLbProxyCaching(this IServiceCollection services)
    {
        services.AddLbProxyOptions<CacheOptions, CacheOptionsValidator>(CacheOptions.SectionName, static (section, options) => section.Bind(options));
        services.AddSingleton<IConfigCheck, CacheConfigCheck>();
        services.AddSingleton<HotSet>();
        services.AddSingleton<CacheRefreshes>();
        services.AddSingleton<CacheMetrics>();
        services.AddSingleton<IClusterSeries>(static sp => sp.GetRequiredService<CacheMetrics>());
        services.AddControlEndpoints<CacheEndpoints>();
        services.AddStatusSection<CacheEndpointsStatusSource, CacheStatus>("cache", static source => source.Capture(), CacheJsonContext.Default.CacheStatus);
        services.AddSingleton<CacheEndpointsStatusSource>();
        return services;
    }

    /// <summary>
    /// The hot set, after format negotiation (it keys on the class) and before retries and balancing (a hit takes
    /// no origin slot, and a failed forward is seen after every retry).
    /// </summary>
    public static IReverseProxyApplicationBuilder UseResponseCache(this IReverseProxyApplicationBuilder proxy)
    {
        proxy.UseMiddleware<ResponseCacheMiddleware>();
        return proxy;
    }
}

/// <summary>The source of the <c>cache</c> status section: the hot set and the stage's counts.</summary>
internal sealed class CacheEndpointsStatusSource(HotSet hotSet, CacheMetrics metrics)
{
    public CacheStatus Capture() => CacheStatus.Capture(hotSet, metrics);
}
