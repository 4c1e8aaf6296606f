using LbProxy.Configuration;

namespace LbProxy.Edge;

internal static class EdgeExtensions
{
    public static IServiceCollection AddLbProxyEdge(this IServiceCollection services)
    {
        services.AddLbProxyOptions<HeadersOptions, HeadersOptionsValidator>(HeadersOptions.SectionName, static (section, options) => section.Bind(options));
        services.AddLbProxyOptions<EdgeOptions, EdgeOptionsValidator>(EdgeOptions.SectionName, static (section, options) => section.Bind(options));
        services.AddSingleton<TrustedProxies>();
        services.AddSingleton<SlowReaderCut>();
        return services;
    }

    /// <summary>Ambiguous framing → 400, CONNECT → 501, TRACE → 405, before anything else looks at the request.</summary>
    public static IApplicationBuilder UseRequestGuard(this IApplicationBuilder app) =>
        app.UseMiddleware<RequestGuardMiddleware>();

    /// <summary>Small request bodies are read whole and their framing checked before anything goes upstream.</summary>
    public static IApplicationBuilder UseRequestBodyBuffer(this IApplicationBuilder app) =>
        app.UseMiddleware<RequestBodyBufferMiddleware>();

    /// <summary>An HTTP/2 client whose response could not be written for the activity timeout loses its connection.</summary>
    public static IReverseProxyApplicationBuilder UseStalledClientCut(this IReverseProxyApplicationBuilder proxy)
    {
        proxy.Use(StalledClientCut.InvokeAsync);
        return proxy;
    }

    /// <summary>Every request gets an id: a trusted proxy's <c>X-Request-Id</c>, else a new one.</summary>
    public static IApplicationBuilder UseRequestId(this IApplicationBuilder app) =>
        app.UseMiddleware<RequestIdMiddleware>();
}
