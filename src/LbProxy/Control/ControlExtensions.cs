using System.Diagnostics.CodeAnalysis;
using System.Text.Json.Serialization.Metadata;
using LbProxy.Configuration;
using LbProxy.Edge;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace LbProxy.Control;

internal static class ControlServiceCollectionExtensions
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

        services.AddSingleton<ProcessUptime>();
        services.AddSingleton<Readiness>();
        services.AddSingleton<ControlAccess>();
        services.AddSingleton<StatusDocument>();
        services.AddHostedService<GracefulShutdown>();
        services.AddControlEndpoints<ControlPlaneEndpoints>();
        services.AddStatusSection<ConfigState, ConfigStatus>("config", static state => state.Current, ControlJsonContext.Default.ConfigStatus);
        return services;
    }

    /// <summary>A stage's control endpoints, mapped below the prefix with the token rule unless they say otherwise.</summary>
    public static IServiceCollection AddControlEndpoints<[DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicConstructors)] T>(this IServiceCollection services)
        where T : class, IControlEndpoints
    {
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IControlEndpoints, T>());
        return services;
    }

    /// <summary>
    /// A stage's section of <c>/_lb/status</c>: <paramref name="name"/> (camelCase) with the value
    /// <paramref name="capture"/> reads from the stage's service <typeparamref name="TSource"/> at each request.
    /// </summary>
    public static IServiceCollection AddStatusSection<TSource, TValue>(
        this IServiceCollection services, string name, Func<TSource, TValue> capture, JsonTypeInfo<TValue> typeInfo)
        where TSource : notnull
    {
        services.AddSingleton<IStatusSection>(sp =>
        {
            var source = sp.GetRequiredService<TSource>();
            return new StatusSection<TValue>(name, () => capture(source), typeInfo);
        });
        return services;
    }
}

internal static class ControlApplicationBuilderExtensions
{
    /// <summary>
    /// The control-plane split: <c>/_lb/*</c> and <c>/metrics</c> in any spelling are answered by LbProxy and never
    /// forwarded; anything else under the prefix is a 404 from LbProxy rather than a request to a backend. Requests
    /// under the prefix go through a branch of their own: endpoint routing over the endpoints the stages map, then the
    /// access rule. The branch has its own route table (a branch of a WebApplication does not see the global one), so
    /// YARP's routes never match there and the control endpoints never cost a proxied request a look-up.
    /// </summary>
    public static IApplicationBuilder UseLbProxyControl(this IApplicationBuilder app)
    {
        var prefix = app.ApplicationServices.GetRequiredService<ControlPrefix>().Value;
        var stages = app.ApplicationServices.GetServices<IControlEndpoints>().ToList();
        var branch = app.New();
        branch.UseRouting();
        branch.UseMiddleware<ControlAccessMiddleware>();
        branch.UseEndpoints(endpoints =>
        {
            var control = endpoints.MapGroup(prefix).WithMetadata(ControlAccessMetadata.Token);
            foreach (var stage in stages)
            {
                stage.Map(control);
            }
        });
        return app.UseMiddleware<ControlPlaneMiddleware>(branch.Build());
    }
}
