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
        List<ConfigError> valueErrors;
        try
        {
            configuration = file.ToConfiguration();
            var section = configuration.GetSection(ConfigKeys.ReverseProxy);
            // Values YARP could not convert are reported at their keys, and the rest is parsed without them, so
            // that every other error is found too.
            valueErrors = YarpValueCheck.Check(file, section, out var badKeys);
            parsed = ParseWithYarp(badKeys.Count == 0 ? section : YarpValueCheck.Without(section, badKeys));
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return new ConfigLoadResult(null, [file.ErrorAt(ConfigKeys.ReverseProxy, ProxyConfigValidator.Describe(e))]);
        }

        var effective = live.EffectiveWith((IConfigurationRoot)app, configuration);
        var candidate = new ConfigCandidate(file, configuration, effective, parsed.Routes, parsed.Clusters);
        var errors = await validator.ValidateAsync(candidate);
        if (valueErrors.Count > 0)
        {
            errors = [.. errors.Concat(valueErrors).OrderBy(static e => e.Line ?? 0).ThenBy(static e => e.Column ?? 0)];
        }

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
