using LbProxy.Configuration;
using Yarp.ReverseProxy.Configuration;

namespace LbProxy.RateLimiting;

/// <summary>
/// Checks <c>LbProxy:RateLimits</c> of a candidate config (each error at its key), and that every route's
/// <c>RateLimiterPolicy</c> names one of its policies: an unknown name is refused at the route's key, so
/// <c>validate</c> and a reload refuse it with its place and the last good config keeps serving.
/// </summary>
internal sealed class RateLimitsConfigCheck : IConfigCheck
{
    public const string DefaultName = "Default";
    public const string DisableName = "Disable";

    /// <summary>Whether the route names a policy (rather than nothing, <c>Default</c> or <c>Disable</c>).</summary>
    public static bool NamesAPolicy(RouteConfig route) =>
        !string.IsNullOrEmpty(route.RateLimiterPolicy)
        && !string.Equals(route.RateLimiterPolicy, DefaultName, StringComparison.OrdinalIgnoreCase)
        && !string.Equals(route.RateLimiterPolicy, DisableName, StringComparison.OrdinalIgnoreCase);

    public void Check(ConfigCandidate candidate, List<ConfigError> errors)
    {
        var section = candidate.Effective.GetSection(RateLimitsOptions.SectionName);
        var policies = new Dictionary<string, RateLimitPolicyOptions>(StringComparer.OrdinalIgnoreCase);
        var problems = new List<(string Key, string Message)>();
        RateLimitsOptions.Read(section, policies, problems);
        foreach (var (key, message) in problems)
        {
            errors.Add(candidate.File.ErrorAt(key, message));
        }

        // Every name defined counts as defined, a policy with errors too: its own errors say what is wrong.
        var defined = section.GetChildren().Select(static c => c.Key).ToHashSet(StringComparer.OrdinalIgnoreCase);
        foreach (var route in candidate.Routes)
        {
            var key = $"{ConfigKeys.Route(route.RouteId)}:{nameof(RouteConfig.RateLimiterPolicy)}";
            if (string.Equals(route.RateLimiterPolicy, DefaultName, StringComparison.OrdinalIgnoreCase))
            {
                errors.Add(candidate.File.ErrorAt(key,
                    $"route '{route.RouteId}' sets RateLimiterPolicy 'Default', ASP.NET Core's global limiter, which LbProxy does not run: name a policy of {RateLimitsOptions.SectionName}, or 'Disable'"));
            }
            else if (NamesAPolicy(route) && !defined.Contains(route.RateLimiterPolicy!))
            {
                errors.Add(candidate.File.ErrorAt(key,
                    $"route '{route.RouteId}' names rate limit policy '{route.RateLimiterPolicy}', which {RateLimitsOptions.SectionName} does not define"
                    + (defined.Count == 0 ? " (it defines none)" : $" (it defines {string.Join(", ", defined.Order(StringComparer.OrdinalIgnoreCase))})")));
            }
        }
    }
}
