using LbProxy.Configuration;
using Microsoft.Extensions.Options;

namespace LbProxy.Diagnostics;

internal static class DiagnosticsExtensions
{
    /// <summary>The uptime, the runtime sampler with its ring (one timer for the process), the leak watchdog and the live page's assets.</summary>
    public static IServiceCollection AddLbProxyDiagnostics(this IServiceCollection services)
    {
        services.AddLbProxyOptions<WatchdogOptions, WatchdogOptionsValidator>(WatchdogOptions.SectionName, static (section, options) => section.Bind(options));
        services.AddSingleton<ProcessUptime>();
        services.AddSingleton(static sp =>
        {
            var options = sp.GetRequiredService<IOptions<WatchdogOptions>>().Value;
            return new SampleRing((int)Math.Ceiling(options.Retention / options.SampleInterval));
        });
        services.AddSingleton<LeakWatchdog>();
        services.AddSingleton<ClientConnections>();
        services.AddSingleton<RuntimeSampler>();
        services.AddHostedService(static sp => sp.GetRequiredService<RuntimeSampler>());
        services.AddSingleton<LivePage>();
        return services;
    }
}
