using LbProxy.Configuration;

namespace LbProxy.Caching;

/// <summary>Refuses route cache metadata that would silently mean something else (<c>"Cache.Enabled": "yes"</c>).</summary>
internal sealed class CacheConfigCheck : IConfigCheck
{
    public void Check(ConfigCandidate candidate, List<ConfigError> errors)
    {
        foreach (var route in candidate.Routes)
        {
            if (CacheRouteSettings.Parse(route.Metadata).Error is { } error)
            {
                errors.Add(candidate.File.ErrorAt($"{ConfigKeys.Route(route.RouteId)}:Metadata", error));
            }
        }
    }
}
