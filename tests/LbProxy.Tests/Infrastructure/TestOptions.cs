using Microsoft.Extensions.Options;

namespace LbProxy.Tests.Infrastructure;

internal static class TestOptions
{
    /// <summary>A real options monitor whose value is the defaults after <paramref name="configure"/>; it never changes.</summary>
    public static IOptionsMonitor<T> Monitor<T>(Action<T>? configure = null)
        where T : class
    {
        IConfigureOptions<T>[] setups = [new ConfigureOptions<T>(configure ?? (static _ => { }))];
        return new OptionsMonitor<T>(new OptionsFactory<T>(setups, []), [], new OptionsCache<T>());
    }
}
