using Yarp.ReverseProxy.Configuration;

namespace LbProxy.Configuration;

internal static class ConfigurationExtensions
{
    /// <summary>
    /// Reads the config file (<c>--config</c>, <c>LBPROXY_CONFIG</c> or <c>./yarp.json</c>), puts its keys in the
    /// app's configuration through a source that only ever takes validated content, and registers the loader,
    /// the validator and the live reloader. Throws <see cref="ConfigFileException"/> when the file is missing,
    /// empty or not JSON.
    /// </summary>
    public static WebApplicationBuilder AddLbProxyConfiguration(this WebApplicationBuilder builder)
    {
        var file = LbProxyConfigFile.Load(ConfigFileLocator.Resolve(builder.Configuration));
        var live = new LiveFileConfigurationSource(file.ToConfiguration());
        live.AddTo(builder.Configuration);

        var services = builder.Services;
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton(file);
        services.AddSingleton(live);
        services.AddSingleton<ConfigState>();
        services.AddSingleton<ConfigLoader>();
        services.AddSingleton<ProxyConfigValidator>();
        services.AddSingleton<ConfigApplier>();
        services.AddLbProxyOptions<ConfigReloadOptions, ConfigReloadOptionsValidator>(ConfigReloadOptions.SectionName, static (section, options) => section.Bind(options));

        // YARP reads routes and clusters only from here, and only validated ones reach it.
        services.AddSingleton(new InMemoryConfigProvider([], []));
        services.AddSingleton<IProxyConfigProvider>(static sp => sp.GetRequiredService<InMemoryConfigProvider>());

        services.AddSingleton<ConfigReloader>();
        services.AddSingleton<ConfigFileWatcher>();
        services.AddHostedService(static sp => sp.GetRequiredService<ConfigFileWatcher>());
        return builder;
    }

    /// <summary>
    /// Loads the config read at start, validates it exactly as a reload would and, when it is good, hands it to
    /// YARP. Must run before the proxy is mapped, which reads YARP's first config.
    /// </summary>
    public static async Task<IReadOnlyList<ConfigError>> LoadAndApplyInitialConfigAsync(this IServiceProvider services)
    {
        var file = services.GetRequiredService<LbProxyConfigFile>();
        var result = await services.GetRequiredService<ConfigLoader>().LoadAsync(file);
        if (result.Succeeded)
        {
            services.GetRequiredService<ConfigApplier>().ApplyInitial(result.Candidate!);
        }

        return result.Errors;
    }
}
