using Yarp.ReverseProxy.Configuration;

namespace LbProxy.Configuration;

/// <summary>
/// Validates a candidate config as a whole: YARP's own validation of every route and cluster, the mistakes
/// YARP accepts but an edge must not (a route naming an unknown cluster, a cluster with no destinations, a
/// config with no routes at all), every options section, and each stage's own check. The start, every
/// reload and <c>validate PATH</c> run exactly this.
/// </summary>
internal sealed class ProxyConfigValidator(IConfigValidator yarpValidator, IEnumerable<IConfigCheck> checks)
{
    public async Task<List<ConfigError>> ValidateAsync(ConfigCandidate candidate)
    {
        var file = candidate.File;
        var errors = new List<ConfigError>();
        var clusterIds = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var cluster in candidate.Clusters)
        {
            clusterIds.Add(cluster.ClusterId);
            var key = ConfigKeys.Cluster(cluster.ClusterId);
            foreach (var e in await yarpValidator.ValidateClusterAsync(cluster))
            {
                errors.Add(file.ErrorAt(key, Describe(e)));
            }

            if (cluster.Destinations is null || cluster.Destinations.Count == 0)
            {
                errors.Add(file.ErrorAt(key, $"cluster '{cluster.ClusterId}' has no destinations"));
            }
        }

        foreach (var route in candidate.Routes)
        {
            var key = ConfigKeys.Route(route.RouteId);
            foreach (var e in await yarpValidator.ValidateRouteAsync(route))
            {
                errors.Add(file.ErrorAt(key, Describe(e)));
            }

            foreach (var (field, value) in UnsupportedFields(route))
            {
                errors.Add(file.ErrorAt($"{key}:{field}",
                    $"route '{route.RouteId}' sets {field} '{value}', which LbProxy does not support (its middleware is not in the pipeline, so every request would fail)"));
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

        if (candidate.Routes.Count == 0 && !AllowsNoRoutes(candidate))
        {
            errors.Add(file.ErrorAt(ConfigKeys.Routes,
                $"the config has no routes: it would answer every request with 404 (set {ConfigReloadOptions.SectionName}:AllowNoRoutes to true if that is meant)"));
        }

        foreach (var check in checks)
        {
            check.Check(candidate, errors);
        }

        return Sorted(errors);
    }

    /// <summary>
    /// Route features of YARP that need ASP.NET Core middleware LbProxy does not run (authorization, CORS, output
    /// caching, request timeouts). YARP accepts them and then fails every request of the route. (Rate limiting,
    /// <c>RateLimiterPolicy</c>, is LbProxy's own stage, which checks the names.)
    /// </summary>
    private static IEnumerable<(string Field, string Value)> UnsupportedFields(RouteConfig route)
    {
        if (!string.IsNullOrEmpty(route.AuthorizationPolicy))
        {
            yield return (nameof(route.AuthorizationPolicy), route.AuthorizationPolicy);
        }

        if (!string.IsNullOrEmpty(route.CorsPolicy))
        {
            yield return (nameof(route.CorsPolicy), route.CorsPolicy);
        }

        if (!string.IsNullOrEmpty(route.OutputCachePolicy))
        {
            yield return (nameof(route.OutputCachePolicy), route.OutputCachePolicy);
        }

        if (!string.IsNullOrEmpty(route.TimeoutPolicy))
        {
            yield return (nameof(route.TimeoutPolicy), route.TimeoutPolicy);
        }

        if (route.Timeout is { } timeout)
        {
            yield return (nameof(route.Timeout), timeout.ToString());
        }
    }

    internal static string Describe(Exception e)
    {
        var message = e.Message;
        for (var inner = e.InnerException; inner is not null; inner = inner.InnerException)
        {
            message += " " + inner.Message;
        }

        return message;
    }

    private static bool AllowsNoRoutes(ConfigCandidate candidate) =>
        candidate.Effective.GetValue<bool>($"{ConfigReloadOptions.SectionName}:{nameof(ConfigReloadOptions.AllowNoRoutes)}");

    /// <summary>In file order, so that the report reads top to bottom.</summary>
    private static List<ConfigError> Sorted(List<ConfigError> errors) =>
        [.. errors.OrderBy(static e => e.Line ?? 0).ThenBy(static e => e.Column ?? 0)];
}
