using LbProxy.Configuration;

namespace LbProxy.Demo;

internal static class DemoExtensions
{
    public static IServiceCollection AddLbProxyDemo(this IServiceCollection services)
    {
        services.AddLbProxyOptions<DemoOptions, DemoOptionsValidator>(DemoOptions.SectionName);
        services.AddSingleton<IConfigCheck, DemoConfigCheck>();
        services.AddSingleton<DemoOrigins>();
        services.AddHostedService(static sp => sp.GetRequiredService<DemoOrigins>());
        return services;
    }

    /// <summary>
    /// Starts the demo origins, if enabled, before <c>MapReverseProxy</c> loads the config. Start-up code:
    /// it blocks only on Kestrel binding two loopback ports.
    /// </summary>
    public static void StartDemoOrigins(this IApplicationBuilder app) =>
        app.ApplicationServices.GetRequiredService<DemoOrigins>().StartOriginsAsync(CancellationToken.None).GetAwaiter().GetResult();
}
