using LbProxy.Configuration;

namespace LbProxy.Images;

internal static class ImagesExtensions
{
    public static IServiceCollection AddLbProxyImages(this IServiceCollection services)
    {
        services.AddLbProxyOptions<ImagesOptions>(ImagesOptions.SectionName, static (section, options) => section.Bind(options));
        services.AddSingleton<ImageMetrics>();
        return services;
    }

    /// <summary>Format negotiation, ahead of load balancing so ConsistentHash keys on the format class.</summary>
    public static IReverseProxyApplicationBuilder UseImageFormatNegotiation(this IReverseProxyApplicationBuilder proxy)
    {
        proxy.UseMiddleware<ImageFormatMiddleware>();
        return proxy;
    }
}
