using LbProxy.Configuration;
using LbProxy.Control;

namespace LbProxy.RateLimiting;

internal static class RateLimitingExtensions
{
    /// <summary>
    /// Per-client rate limits: the policies of <c>LbProxy:RateLimits</c> (live on reload), their check, YARP's
    /// validator without its own verdict on policy names, the metrics and the <c>rateLimits</c> status section.
    /// After AddReverseProxy.
    /// </summary>
    public static IServiceCollection AddLbProxyRateLimiting(this IServiceCollection services)
    {
        services.AddLbProxyOptions<RateLimitsOptions>(RateLimitsOptions.SectionName, static (section, options) => options.Read(section));
        services.AddSingleton<IConfigCheck, RateLimitsConfigCheck>();
        RateLimiterPolicyValidation.Decorate(services);
        services.AddSingleton<RateLimitPolicies>();
        services.AddSingleton<RateLimitMetrics>();
        services.AddStatusSection<RateLimitPolicies, IReadOnlyList<RateLimitStatus>>(
            "rateLimits", static policies => RateLimitStatus.Capture(policies), RateLimitingJsonContext.Default.IReadOnlyListRateLimitStatus);
        return services;
    }

    /// <summary>The policy a route names in <c>RateLimiterPolicy</c>: a 429 with <c>Retry-After</c> over its limit.</summary>
    public static IReverseProxyApplicationBuilder UseRateLimits(this IReverseProxyApplicationBuilder proxy)
    {
        proxy.UseMiddleware<RateLimitMiddleware>();
        return proxy;
    }
}
