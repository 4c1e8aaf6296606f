using Microsoft.Extensions.DependencyInjection.Extensions;
using Yarp.ReverseProxy.Forwarder;

namespace LbProxy.Forwarding;

internal static class ForwardingExtensions
{
    public const string ReverseProxySectionName = "ReverseProxy";

    /// <summary>YARP with routes and clusters from the config file, and edge-sized upstream defaults.</summary>
    public static IServiceCollection AddLbProxyForwarding(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<ForwardingOptions>().BindConfiguration(ForwardingOptions.SectionName).ValidateOnStart();
        services.AddSingleton<Microsoft.Extensions.Options.IValidateOptions<ForwardingOptions>, ForwardingOptionsValidator>();
        services.AddReverseProxy()
            .LoadFromConfig(configuration.GetSection(ReverseProxySectionName))
            .AddConfigFilter<EdgeDefaultsConfigFilter>();
        services.Replace(ServiceDescriptor.Singleton<IForwarderHttpClientFactory, EdgeForwarderHttpClientFactory>());
        return services;
    }
}
