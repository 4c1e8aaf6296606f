using Yarp.ReverseProxy.Configuration;

namespace LbProxy.Configuration;

/// <summary>Turns a config file into a validated candidate, or into the list of its errors.</summary>
internal sealed class ConfigLoader(ProxyConfigValidator validator, IConfiguration app, LiveFileConfigurationSource live)
{
    /// <summary>Parses a file already read and checked for syntax, and validates it as a whole.</summary>
    public async Task<ConfigLoadResult> LoadAsync(LbProxyConfigFile file)
    {
        IConfiguration configuration;
        IProxyConfig parsed;
        try
        {
            configuration = file.ToConfiguration();
            parsed = ParseWithYarp(configuration.GetSection(ConfigKeys.ReverseProxy));
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return new ConfigLoadResult(null, [file.ErrorAt(ConfigKeys.ReverseProxy, ProxyConfigValidator.Describe(e))]);
        }

        var effective = live.EffectiveWith((IConfigurationRoot)app, configuration);
        var candidate = new ConfigCandidate(file, configuration, effective, parsed.Routes, parsed.Clusters);
        var errors = await validator.ValidateAsync(candidate);
        return new ConfigLoadResult(errors.Count == 0 ? candidate : null, errors);
    }

    /// <summary>
    /// YARP's own parser of its configuration schema, on the candidate alone: a provider built for this
    /// one read, so every YARP key is read exactly as YARP reads it, and nothing live is touched.
    /// </summary>
    private static IProxyConfig ParseWithYarp(IConfigurationSection section)
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddReverseProxy().LoadFromConfig(section);
        using var provider = services.BuildServiceProvider();
        return provider.GetRequiredService<IProxyConfigProvider>().GetConfig();
    }
}
