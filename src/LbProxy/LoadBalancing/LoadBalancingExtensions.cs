using LbProxy.Configuration;
using LbProxy.Metrics;
using Yarp.ReverseProxy.LoadBalancing;

namespace LbProxy.LoadBalancing;

internal static class LoadBalancingExtensions
{
    /// <summary>
    /// The ConsistentHash and WeightedRoundRobin policies, usable by name in LoadBalancingPolicy, drained
    /// destinations kept out of every cluster's available destinations, and safe retries. After AddReverseProxy.
    /// </summary>
    public static IServiceCollection AddLbProxyLoadBalancing(this IServiceCollection services)
    {
        DrainedDestinationsPolicy.Decorate(services);
        services.AddSingleton<ILoadBalancingPolicy, ConsistentHashPolicy>();
        services.AddSingleton<ILoadBalancingPolicy, WeightedRoundRobinPolicy>();
        services.AddSingleton<IConfigCheck, BalancingConfigCheck>();
        services.AddLbProxyOptions<RetryOptions, RetryOptionsValidator>(RetryOptions.SectionName, static (section, options) => section.Bind(options));
        services.AddSingleton<RetryBudgets>();
        services.AddSingleton<IClusterSeries>(static sp => sp.GetRequiredService<RetryBudgets>());
        services.AddSingleton<RetryMetrics>();
        services.AddSingleton<IClusterSeries>(static sp => sp.GetRequiredService<RetryMetrics>());
        return services;
    }

    /// <summary>Retries, ahead of YARP's load balancing so each attempt is balanced over the destinations not yet tried.</summary>
    public static IReverseProxyApplicationBuilder UseSafeRetries(this IReverseProxyApplicationBuilder proxy)
    {
        proxy.UseMiddleware<RetryMiddleware>();
        return proxy;
    }
}
