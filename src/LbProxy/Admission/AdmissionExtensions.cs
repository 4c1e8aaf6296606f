using LbProxy.Configuration;
using LbProxy.Control;
using LbProxy.Metrics;
using Yarp.ReverseProxy.Transforms.Builder;

namespace LbProxy.Admission;

internal static class AdmissionExtensions
{
    /// <summary>Concurrency limits per destination with a queue, their check, metrics and status section.</summary>
    public static IServiceCollection AddLbProxyAdmission(this IServiceCollection services)
    {
        services.AddSingleton<IConfigCheck, AdmissionConfigCheck>();
        services.AddSingleton(static sp => new AdmissionGates(sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton<AdmissionState>();
        services.AddSingleton<AdmissionMetrics>();
        services.AddSingleton<ClusterCapacityGates>();
        services.AddSingleton<ITransformProvider, OriginResponseTimingTransformProvider>();
        services.AddSingleton<IClusterSeries>(static sp => sp.GetRequiredService<AdmissionMetrics>());
        services.AddStatusSection<AdmissionState, IReadOnlyList<AdmissionClusterStatus>>(
            "admission",
            static state => state.Status(),
            AdmissionJsonContext.Default.IReadOnlyListAdmissionClusterStatus);
        return services;
    }

    /// <summary>The edge's cap on a cluster's requests in flight, fair between client connections: after the cache, before retries.</summary>
    public static IReverseProxyApplicationBuilder UseClusterCapacity(this IReverseProxyApplicationBuilder proxy)
    {
        proxy.UseMiddleware<ClusterCapacityMiddleware>();
        return proxy;
    }

    /// <summary>Admission: after retries and session affinity, just before YARP's load balancing.</summary>
    public static IReverseProxyApplicationBuilder UseAdmission(this IReverseProxyApplicationBuilder proxy)
    {
        proxy.UseMiddleware<AdmissionMiddleware>();
        return proxy;
    }
}
