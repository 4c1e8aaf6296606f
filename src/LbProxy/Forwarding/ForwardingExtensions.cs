using LbProxy.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Yarp.ReverseProxy.Forwarder;

namespace LbProxy.Forwarding;

internal static class ForwardingExtensions
{
    /// <summary>YARP, fed by the validated config (see Configuration/), with edge-sized upstream defaults.</summary>
    public static IServiceCollection AddLbProxyForwarding(this IServiceCollection services)
    {
        services.AddLbProxyOptions<ForwardingOptions, ForwardingOptionsValidator>(ForwardingOptions.SectionName, static (section, options) => section.Bind(options));
        services.AddSingleton<UpstreamConnections>();
        services.AddSingleton<IConfigCheck, WebSocketRoutesConfigCheck>();
        services.AddReverseProxy().AddConfigFilter<EdgeDefaultsConfigFilter>();
        services.Replace(ServiceDescriptor.Singleton<IForwarderHttpClientFactory, EdgeForwarderHttpClientFactory>());
        return services;
    }

    /// <summary>At Debug, a line per proxied request with its route, cluster, destination, attempts, status and time.</summary>
    public static IReverseProxyApplicationBuilder UseRequestDecisionLog(this IReverseProxyApplicationBuilder proxy)
    {
        proxy.UseMiddleware<RequestDecisionLogMiddleware>();
        return proxy;
    }

    /// <summary>At Debug, a line per forward attempt: the destination chosen and what came of it.</summary>
    public static IReverseProxyApplicationBuilder UseAttemptLog(this IReverseProxyApplicationBuilder proxy)
    {
        proxy.UseMiddleware<AttemptLogMiddleware>();
        return proxy;
    }
}
