using LbProxy.Configuration;
using Yarp.ReverseProxy.Configuration;

namespace LbProxy.Demo;

internal static class DemoExtensions
{
    public static IServiceCollection AddLbProxyDemo(this IServiceCollection services)
    {
        services.AddLbProxyOptions<DemoOptions, DemoOptionsValidator>(DemoOptions.SectionName, static (section, options) => section.Bind(options));
        services.AddSingleton<IConfigCheck, DemoConfigCheck>();
        services.AddSingleton<DemoOrigins>();
        services.AddHostedService(static sp => sp.GetRequiredService<DemoOrigins>());
        services.AddSingleton<IProxyConfigFilter>(static sp => sp.GetRequiredService<DemoOrigins>());
        return services;
    }
}
