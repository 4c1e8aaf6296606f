using Yarp.ReverseProxy.Configuration;

namespace LbProxy.RateLimiting;

/// <summary>
/// YARP's own validator, minus its verdict on a route's <c>RateLimiterPolicy</c> name, which
/// <see cref="RateLimitsConfigCheck"/> gives instead, against <c>LbProxy:RateLimits</c> of the candidate config,
/// with the key's place in the file.
/// </summary>
/// <remarks>
/// YARP 2.3 looks a name up in ASP.NET Core's <c>RateLimiterOptions</c>, by reflection on its internal policy map
/// (there is no public API: dotnet/aspnetcore#45684). LbProxy's policies do not live there: they change on reload,
/// and <c>RateLimiterOptions</c> is read once. YARP runs this validator both when <c>validate</c> and a reload check
/// a candidate (through <c>ProxyConfigValidator</c>) and when the applied routes reach it; wrapping the one
/// <see cref="IConfigValidator"/> covers both, needs no reflection of LbProxy's own, and leaves every other check of
/// YARP's in place. <c>Default</c> and <c>Disable</c> are passed on: YARP checks them as it always does.
/// </remarks>
internal sealed class RateLimiterPolicyValidation(IConfigValidator inner) : IConfigValidator
{
    public ValueTask<IList<Exception>> ValidateRouteAsync(RouteConfig route) =>
        inner.ValidateRouteAsync(RateLimitsConfigCheck.NamesAPolicy(route) ? route with { RateLimiterPolicy = null } : route);

    public ValueTask<IList<Exception>> ValidateClusterAsync(ClusterConfig cluster) => inner.ValidateClusterAsync(cluster);

    /// <summary>Wraps YARP's validator; call after <c>AddReverseProxy</c>.</summary>
    public static void Decorate(IServiceCollection services)
    {
        var decorated = 0;
        for (var i = 0; i < services.Count; i++)
        {
            var descriptor = services[i];
            if (descriptor.ServiceType != typeof(IConfigValidator) || descriptor.IsKeyedService)
            {
                continue;
            }

            services[i] = ServiceDescriptor.Singleton<IConfigValidator>(sp => new RateLimiterPolicyValidation(
                (IConfigValidator)(descriptor.ImplementationInstance
                    ?? descriptor.ImplementationFactory?.Invoke(sp)
                    ?? ActivatorUtilities.CreateInstance(sp, descriptor.ImplementationType!))));
            decorated++;
        }

        if (decorated == 0)
        {
            throw new InvalidOperationException("no config validator to wrap: register the reverse proxy first");
        }
    }
}
