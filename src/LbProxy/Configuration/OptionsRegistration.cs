using Microsoft.Extensions.Options;

namespace LbProxy.Configuration;

internal static class OptionsRegistration
{
    /// <summary>
    /// One options section of the config file: bound live (it follows reloads), validated at start, and
    /// checked on every candidate config before it is applied.
    /// </summary>
    public static IServiceCollection AddLbProxyOptions<TOptions, TValidator>(this IServiceCollection services, string sectionName)
        where TOptions : class, new()
        where TValidator : class, IValidateOptions<TOptions>, new()
    {
        var validator = new TValidator();
        services.AddOptions<TOptions>().BindConfiguration(sectionName).ValidateOnStart();
        services.AddSingleton<IValidateOptions<TOptions>>(validator);
        services.AddSingleton<IOptionsCheck>(new OptionsCheck<TOptions>(sectionName, validator));
        return services;
    }

    /// <summary>A further validator of a section registered with <see cref="AddLbProxyOptions"/>: at start and on every candidate.</summary>
    public static IServiceCollection AddLbProxyOptionsValidator<TOptions, TValidator>(this IServiceCollection services, string sectionName)
        where TOptions : class, new()
        where TValidator : class, IValidateOptions<TOptions>, new()
    {
        var validator = new TValidator();
        services.AddSingleton<IValidateOptions<TOptions>>(validator);
        services.AddSingleton<IOptionsCheck>(new OptionsCheck<TOptions>(sectionName, validator));
        return services;
    }
}
