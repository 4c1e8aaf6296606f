using LbProxy.AccessLog;
using LbProxy.Configuration;
using LbProxy.Diagnostics;
using Microsoft.Extensions.Options;

namespace LbProxy.Control;

internal static class ControlEndpoints
{
    public static IServiceCollection AddLbProxyControl(this IServiceCollection services)
    {
        services.AddLbProxyOptions<ControlOptions, ControlOptionsValidator>(ControlOptions.SectionName);
        services.AddOptions<ControlOptions>()
            .PostConfigure<IConfiguration>(static (options, configuration) =>
            {
                if (configuration[ControlOptions.TokenEnvironmentVariable] is { Length: > 0 } token)
                {
                    options.Token = token;
                }
            });
        services.AddLbProxyOptions<LoggingOptions, NoValidation<LoggingOptions>>(LoggingOptions.SectionName);
        // The whole stop: the grace period, then the drain of in-flight requests.
        services.AddOptions<HostOptions>().Configure<IOptions<ControlOptions>>(static (host, control) =>
            host.ShutdownTimeout = control.Value.ShutdownGrace + control.Value.DrainTimeout);

        services.AddSingleton<Readiness>();
        services.AddSingleton<ProcessUptime>();
        services.AddSingleton<ControlAccess>();
        services.AddSingleton<LogLevelControl>();
        services.AddSingleton<AccessLogReport>();
        services.AddSingleton<ControlEndpointTable>();
        services.AddHostedService<LogLevelSignals>();
        services.AddHostedService<GracefulShutdown>();
        return services;
    }

    /// <summary>
    /// The control-plane split: <c>/_lb/*</c> in any spelling is answered here, before routing, and anything
    /// else under the prefix is a 404 from LbProxy rather than a request to a backend.
    /// </summary>
    public static IApplicationBuilder UseLbProxyControl(this IApplicationBuilder app) =>
        app.UseMiddleware<ControlPlaneMiddleware>();
}
