using LbProxy.Configuration;
using Yarp.ReverseProxy.Transforms.Builder;

namespace LbProxy.Transforms;

internal static class TransformsExtensions
{
    public static IServiceCollection AddLbProxyTransforms(this IServiceCollection services)
    {
        services.AddLbProxyOptions<ImagesOptions, NoValidation<ImagesOptions>>(ImagesOptions.SectionName);
        services.AddLbProxyOptions<HeadersOptions, HeadersOptionsValidator>(HeadersOptions.SectionName);
        services.AddSingleton<TrustedProxies>();
        services.AddSingleton<ImageMetrics>();
        services.AddSingleton<ITransformProvider, HeaderHygieneTransformProvider>();
        return services;
    }

    /// <summary>Refuses ambiguous framing and unforwardable methods, then gives the request its id.</summary>
    public static IApplicationBuilder UseLbProxyRequestHygiene(this IApplicationBuilder app)
    {
        app.UseMiddleware<RequestGuardMiddleware>();
        app.UseMiddleware<RequestIdMiddleware>();
        return app;
    }

    /// <summary>Format negotiation, ahead of load balancing so ConsistentHash keys on the format class.</summary>
    public static IReverseProxyApplicationBuilder UseImageFormatNegotiation(this IReverseProxyApplicationBuilder proxy)
    {
        proxy.UseMiddleware<ImageFormatMiddleware>();
        return proxy;
    }
}
