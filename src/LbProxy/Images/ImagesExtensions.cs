using LbProxy.Configuration;
using LbProxy.Metrics;

namespace LbProxy.Images;

internal static class ImagesExtensions
{
    public static IServiceCollection AddLbProxyImages(this IServiceCollection services)
    {
        services.AddLbProxyOptions<ImagesOptions>(ImagesOptions.SectionName, static (section, options) => section.Bind(options));
        services.AddSingleton<ImageMetrics>();
        services.AddSingleton<IRequestFormatClass, ImageFormatClass>(); // the format tag of the byte counters
        return services;
    }

    /// <summary>Format negotiation, ahead of load balancing so ConsistentHash keys on the format class.</summary>
    public static IReverseProxyApplicationBuilder UseImageFormatNegotiation(this IReverseProxyApplicationBuilder proxy)
    {
        proxy.UseMiddleware<ImageFormatMiddleware>();
        return proxy;
    }
}
