using LbProxy.Configuration;
using LbProxy.Control;
using Microsoft.Extensions.Options;

namespace LbProxy.Diagnostics;

internal static class DiagnosticsExtensions
{
    /// <summary>The runtime sampler with its ring (one timer for the process), the leak watchdog, the live page, and their control endpoints and status section.</summary>
    public static IServiceCollection AddLbProxyDiagnostics(this IServiceCollection services)
    {
        services.AddLbProxyOptions<WatchdogOptions, WatchdogOptionsValidator>(WatchdogOptions.SectionName, static (section, options) => section.Bind(options));
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
        services.AddControlEndpoints<RuntimeEndpoint>();
        services.AddControlEndpoints<CensusEndpoint>();
        services.AddControlEndpoints<LivePageEndpoints>();
        services.AddStatusSection<LeakWatchdog, WatchdogStatus>("watchdog", static watchdog => watchdog.Status(), DiagnosticsJsonContext.Default.WatchdogStatus);
        return services;
    }
}
