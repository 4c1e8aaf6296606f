using Microsoft.Extensions.Configuration.EnvironmentVariables;
using Microsoft.Extensions.FileProviders;
using Microsoft.Extensions.Primitives;

namespace LbProxy.Configuration;

/// <summary>
/// The config file's keys inside the app's configuration. Unlike a JSON file source with reload-on-change,
/// it never reads the file itself: it only takes the data of a config that was validated as a whole, so a
/// half-written or missing file can never empty it.
/// </summary>
internal sealed class LiveFileConfigurationSource : ConfigurationProvider, IConfigurationSource
{
    public LiveFileConfigurationSource(IConfiguration initial) => Data = Flatten(initial);

    public IConfigurationProvider Build(IConfigurationBuilder builder) => this;

    /// <summary>
    /// Swaps every key at once and fires the change token, so options monitors see the new values. If a listener
    /// throws (options that are valid in the file but not once merged with the environment), the previous keys
    /// are put back before the exception goes on: the options never stay half applied.
    /// </summary>
    public void Replace(IConfiguration configuration)
    {
        var previous = Data;
        Data = Flatten(configuration);
        try
        {
            OnReload();
        }
        catch
        {
            Data = previous;
            OnReload();
            throw;
        }
    }

    /// <summary>
    /// Adds it below environment variables and the command line, so that
    /// <c>LbProxy__Forwarding__ConnectTimeout=00:00:02</c> still overrides the file.
    /// </summary>
    public void AddTo(IConfigurationManager configuration)
    {
        var sources = configuration.Sources;
        var index = sources.Count;
        for (var i = 0; i < sources.Count; i++)
        {
            if (sources[i] is EnvironmentVariablesConfigurationSource { Prefix: null or "" })
            {
                index = i;
            }
        }

        sources.Insert(index, this);
    }

    /// <summary>
    /// What the options would read if <paramref name="candidate"/> were applied: the app's configuration with the
    /// candidate's keys in this source's place, under the same environment variables and command line. Checks
    /// run on it, so that a value the file gets right but the environment overrides wrongly is refused too.
    /// </summary>
    public IConfiguration EffectiveWith(IConfigurationRoot app, IConfiguration candidate)
    {
        var builder = new ConfigurationBuilder();
        foreach (var provider in app.Providers)
        {
            if (provider is not IDerivedConfigurationProvider)
            {
                builder.Add(ReferenceEquals(provider, this) ? new LiveFileConfigurationSource(candidate) : new BorrowedProvider(provider));
            }
        }

        return builder.Build();
    }

    /// <summary>The app's configuration as the operator wrote it: every provider but the derived ones.</summary>
    public static IConfiguration OperatorView(IConfigurationRoot app)
    {
        var builder = new ConfigurationBuilder();
        foreach (var provider in app.Providers)
        {
            if (provider is not IDerivedConfigurationProvider)
            {
                builder.Add(new BorrowedProvider(provider));
            }
        }

        return builder.Build();
    }

    /// <summary>
    /// Every key but YARP's: routes and clusters reach YARP only through the validated in-memory provider, and
    /// leaving them out keeps the app's configuration small (options binding scans every key of a provider).
    /// </summary>
    private static Dictionary<string, string?> Flatten(IConfiguration configuration)
    {
        var data = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        foreach (var section in configuration.GetChildren())
        {
            if (section.Key.Equals(ConfigKeys.ReverseProxy, StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            foreach (var (key, value) in section.AsEnumerable())
            {
                if (value is not null)
                {
                    data[key] = value;
                }
            }
        }

        return data;
    }
}

/// <summary>A provider of the app's configuration, read as it is now: never loaded again, never written.</summary>
internal sealed class BorrowedProvider(IConfigurationProvider inner) : IConfigurationSource, IConfigurationProvider
{
    public IConfigurationProvider Build(IConfigurationBuilder builder) => this;

    public bool TryGet(string key, out string? value) => inner.TryGet(key, out value);

    public void Set(string key, string? value) => throw new NotSupportedException("a borrowed provider is read-only");

    public IChangeToken GetReloadToken() => NullChangeToken.Singleton;

    public void Load()
    {
    }

    public IEnumerable<string> GetChildKeys(IEnumerable<string> earlierKeys, string? parentPath) => inner.GetChildKeys(earlierKeys, parentPath);
}
