using LbProxy.Configuration;
using Microsoft.Extensions.Options;

namespace LbProxy.Control;

internal static class ControlEndpoints
{
    public static IServiceCollection AddLbProxyControl(this IServiceCollection services)
    {
        services.AddLbProxyOptions<ControlOptions, ControlOptionsValidator>(ControlOptions.SectionName);
        services.AddSingleton<Readiness>();
        return services;
    }

    /// <summary>
    /// The control endpoints. They are literal routes, so they win over any YARP catch-all; anything else
    /// under the prefix is a 404 from LbProxy rather than a request to a backend.
    /// </summary>
    public static IEndpointRouteBuilder MapLbProxyControl(this IEndpointRouteBuilder endpoints)
    {
        var prefix = endpoints.ServiceProvider.GetRequiredService<IOptions<ControlOptions>>().Value.Prefix;
        var control = endpoints.MapGroup(prefix);
        control.MapGet("/healthz", static () => Results.Text("ok"));
        control.MapGet("/readyz", static (Readiness readiness) => readiness.IsReady
            ? Results.Text("ready")
            : Results.Text("not ready", statusCode: StatusCodes.Status503ServiceUnavailable));
        control.Map("/{**rest}", static () => Results.Text("unknown control endpoint", statusCode: StatusCodes.Status404NotFound));
        return endpoints;
    }
}
