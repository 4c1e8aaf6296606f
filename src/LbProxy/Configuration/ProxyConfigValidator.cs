using Microsoft.Extensions.Options;
using Yarp.ReverseProxy.Configuration;

namespace LbProxy.Configuration;

/// <summary>
/// Validates the config as a whole: YARP's own parsing and validation of every route and cluster, the
/// mistakes YARP accepts but an edge must not (a route naming an unknown cluster, a cluster with no
/// destinations), and the LbProxy options. <c>validate PATH</c> and the start of the proxy run exactly this.
/// </summary>
internal sealed class ProxyConfigValidator(
    LbProxyConfigFile file,
    IEnumerable<IProxyConfigProvider> providers,
    IConfigValidator yarpValidator,
    IEnumerable<IConfigCheck> checks,
    IServiceProvider services)
{
    private const string RoutesKey = "ReverseProxy:Routes";
    private const string ClustersKey = "ReverseProxy:Clusters";

    public async Task<IReadOnlyList<ConfigError>> ValidateAsync()
    {
        var errors = new List<ConfigError>();
        ValidateOptions(errors);

        IProxyConfig config;
        try
        {
            // YARP's configuration provider parses lazily and throws on a value it cannot convert.
            config = providers.First().GetConfig();
        }
        catch (Exception e)
        {
            errors.Add(file.ErrorAt("ReverseProxy", Describe(e)));
            return Sorted(errors);
        }

        var clusterIds = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var cluster in config.Clusters)
        {
            clusterIds.Add(cluster.ClusterId);
            var key = $"{ClustersKey}:{cluster.ClusterId}";
            foreach (var e in await yarpValidator.ValidateClusterAsync(cluster))
            {
                errors.Add(file.ErrorAt(key, Describe(e)));
            }

            if (cluster.Destinations is null || cluster.Destinations.Count == 0)
            {
                errors.Add(file.ErrorAt(key, $"cluster '{cluster.ClusterId}' has no destinations"));
            }
        }

        foreach (var route in config.Routes)
        {
            var key = $"{RoutesKey}:{route.RouteId}";
            foreach (var e in await yarpValidator.ValidateRouteAsync(route))
            {
                errors.Add(file.ErrorAt(key, Describe(e)));
            }

            if (string.IsNullOrEmpty(route.ClusterId))
            {
                errors.Add(file.ErrorAt(key, $"route '{route.RouteId}' names no cluster"));
            }
            else if (!clusterIds.Contains(route.ClusterId))
            {
                errors.Add(file.ErrorAt(key + ":ClusterId", $"route '{route.RouteId}' names unknown cluster '{route.ClusterId}'"));
            }
        }

        foreach (var check in checks)
        {
            check.Check(config, file, errors);
        }

        return Sorted(errors);
    }

    private void ValidateOptions(List<ConfigError> errors)
    {
        try
        {
            services.GetService<IStartupValidator>()?.Validate();
        }
        catch (Exception e) when (e is OptionsValidationException or AggregateException)
        {
            var failures = e is AggregateException aggregate ? aggregate.InnerExceptions : [e];
            foreach (var failure in failures)
            {
                if (failure is OptionsValidationException options)
                {
                    var section = SectionOf(options.OptionsType);
                    foreach (var message in options.Failures)
                    {
                        errors.Add(file.ErrorAt(KeyOf(section, message), message));
                    }
                }
                else
                {
                    errors.Add(file.ErrorAt("LbProxy", Describe(failure)));
                }
            }
        }
    }

    /// <summary>In file order, so that the report reads top to bottom.</summary>
    private static List<ConfigError> Sorted(List<ConfigError> errors) =>
        [.. errors.OrderBy(static e => e.Line ?? 0).ThenBy(static e => e.Column ?? 0)];

    /// <summary>Every options class names its section in a <c>SectionName</c> constant.</summary>
    private static string SectionOf(Type optionsType) =>
        optionsType.GetField("SectionName")?.GetValue(null) as string ?? "LbProxy";

    /// <summary>Validation messages start with the member's name ("ConnectTimeout: The field ..."): place the error there.</summary>
    private static string KeyOf(string section, string message)
    {
        var colon = message.IndexOf(": ", StringComparison.Ordinal);
        var member = colon > 0 ? message[..colon] : "";
        return member.Length > 0 && member.All(char.IsLetterOrDigit) ? $"{section}:{member}" : section;
    }

    private static string Describe(Exception e)
    {
        var message = e.Message;
        for (var inner = e.InnerException; inner is not null; inner = inner.InnerException)
        {
            message += " " + inner.Message;
        }

        return message;
    }
}
