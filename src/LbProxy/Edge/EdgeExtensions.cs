using LbProxy.Configuration;

namespace LbProxy.Edge;

internal static class EdgeExtensions
{
    public static IServiceCollection AddLbProxyEdge(this IServiceCollection services)
    {
        services.AddLbProxyOptions<HeadersOptions, HeadersOptionsValidator>(HeadersOptions.SectionName);
        services.AddSingleton<TrustedProxies>();
        return services;
    }

    /// <summary>Ambiguous framing → 400, CONNECT → 501, TRACE → 405, before anything else looks at the request.</summary>
    public static IApplicationBuilder UseRequestGuard(this IApplicationBuilder app) =>
        app.UseMiddleware<RequestGuardMiddleware>();

    /// <summary>Every request gets an id: a trusted proxy's <c>X-Request-Id</c>, else a new one.</summary>
    public static IApplicationBuilder UseRequestId(this IApplicationBuilder app) =>
        app.UseMiddleware<RequestIdMiddleware>();
}
