using LbProxy.Configuration;
using LbProxy.Edge;
using Microsoft.Extensions.Options;

namespace LbProxy.Control;

internal static class ControlExtensions
{
    public static IServiceCollection AddLbProxyControl(this IServiceCollection services)
    {
        services.AddLbProxyOptions<ControlOptions, ControlOptionsValidator>(ControlOptions.SectionName, static (section, options) => section.Bind(options));
        services.AddOptions<ControlOptions>()
            .PostConfigure<IConfiguration>(static (options, configuration) =>
            {
                if (configuration[ControlOptions.TokenEnvironmentVariable] is { Length: > 0 } token)
                {
                    options.Token = token;
                }
            });
        services.AddSingleton(static sp => ControlPrefix.From(sp.GetRequiredService<IOptions<ControlOptions>>().Value.Prefix));
        // The whole stop: the grace period, then the drain of in-flight requests.
        services.AddOptions<HostOptions>().Configure<IOptions<ControlOptions>>(static (host, control) =>
            host.ShutdownTimeout = control.Value.ShutdownGrace + control.Value.DrainTimeout);

        services.AddSingleton<Readiness>();
        services.AddSingleton<ControlAccess>();
        services.AddSingleton<ControlEndpointTable>();
        services.AddHostedService<GracefulShutdown>();
        return services;
    }

    /// <summary>
    /// The control-plane split: <c>/_lb/*</c> and <c>/metrics</c> in any spelling are answered by LbProxy and never
    /// forwarded; anything else under the prefix is a 404 from LbProxy rather than a request to a backend.
    /// </summary>
    public static IApplicationBuilder UseLbProxyControl(this IApplicationBuilder app) =>
        app.UseMiddleware<ControlPlaneMiddleware>();
}
