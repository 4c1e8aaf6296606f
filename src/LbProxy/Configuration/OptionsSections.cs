using Microsoft.Extensions.Options;

namespace LbProxy.Configuration;

internal static class OptionsSections
{
    /// <summary>
    /// One options section of the config file: bound live (it follows reloads), and checked on every candidate
    /// config, the first one included, by every <see cref="IValidateOptions{TOptions}"/> registered for it.
    /// </summary>
    /// <remarks>
    /// <c>bind</c> is <c>static (section, options) =&gt; section.Bind(options)</c>, written where
    /// <typeparamref name="TOptions"/> is a concrete type: there the configuration binder's source generator writes
    /// the binding. The native build has no reflection binder: a bind in generic code would leave every option at its
    /// default, silently.
    /// </remarks>
    public static IServiceCollection AddLbProxyOptions<TOptions>(this IServiceCollection services, string sectionName, Action<IConfiguration, TOptions> bind)
        where TOptions : class, new()
    {
        services.AddOptions<TOptions>().Configure<IConfiguration>((options, configuration) => bind(configuration.GetSection(sectionName), options));
        services.AddSingleton<IOptionsChangeTokenSource<TOptions>>(sp => new ConfigurationChangeTokenSource<TOptions>(sp.GetRequiredService<IConfiguration>()));
        services.AddSingleton<IConfigCheck>(sp => new OptionsSectionCheck<TOptions>(sectionName, bind, [.. sp.GetServices<IValidateOptions<TOptions>>()]));
        return services;
    }

    /// <summary>As <see cref="AddLbProxyOptions{TOptions}"/>, with its validator.</summary>
    public static IServiceCollection AddLbProxyOptions<TOptions, TValidator>(this IServiceCollection services, string sectionName, Action<IConfiguration, TOptions> bind)
        where TOptions : class, new()
        where TValidator : class, IValidateOptions<TOptions>, new()
    {
        services.AddSingleton<IValidateOptions<TOptions>>(new TValidator());
        return services.AddLbProxyOptions(sectionName, bind);
    }
}

/// <summary>
/// Binds <typeparamref name="TOptions"/> from a candidate's effective configuration and runs its validators, so
/// that a config with bad options is refused before anything changes (an options monitor alone would take the
/// bad values). Binding errors are reported too, for options whose every value is valid.
/// </summary>
internal sealed class OptionsSectionCheck<TOptions>(string sectionName, Action<IConfiguration, TOptions> bind, IValidateOptions<TOptions>[] validators) : IConfigCheck
    where TOptions : class, new()
{
    public void Check(ConfigCandidate candidate, List<ConfigError> errors)
    {
        var options = new TOptions();
        try
        {
            bind(candidate.Effective.GetSection(sectionName), options);
        }
        catch (InvalidOperationException e)
        {
            // The binder names the key and the value it could not convert.
            errors.Add(candidate.File.ErrorAt(sectionName, e.InnerException is null ? e.Message : $"{e.Message} {e.InnerException.Message}"));
            return;
        }

        foreach (var validator in validators)
        {
            var result = validator.Validate(Options.DefaultName, options);
            if (!result.Failed)
            {
                continue;
            }

            foreach (var failure in result.Failures ?? [result.FailureMessage])
            {
                errors.Add(candidate.File.ErrorAt(KeyOf(sectionName, failure), failure));
            }
        }
    }

    /// <summary>Validation messages start with the member's name ("ConnectTimeout: The field ..."): place the error there.</summary>
    private static string KeyOf(string section, string message)
    {
        var colon = message.IndexOf(": ", StringComparison.Ordinal);
        var member = colon > 0 ? message[..colon] : "";
        return member.Length > 0 && member.All(char.IsLetterOrDigit) ? $"{section}:{member}" : section;
    }
}
