using LbProxy.AccessLog;
using LbProxy.Configuration;
using LbProxy.Control;
using LbProxy.Demo;
using LbProxy.Diagnostics;
using LbProxy.Forwarding;

namespace LbProxy.Hosting;

/// <summary>Wires every stage; nothing else lives here.</summary>
internal static class LbProxyHostingExtensions
{
    /// <summary>
    /// Reads the config file (<c>--config</c>, <c>LBPROXY_CONFIG</c> or <c>./yarp.json</c>) and registers
    /// every stage. Throws <see cref="ConfigFileException"/> when the file is missing, empty or not JSON.
    /// </summary>
    public static WebApplicationBuilder AddLbProxy(this WebApplicationBuilder builder)
    {
        var file = LbProxyConfigFile.Load(ConfigFileLocator.Resolve(builder.Configuration));
        file.AddTo(builder.Configuration);
        builder.Services.AddSingleton(file);
        builder.Services.AddSingleton<ProxyConfigValidator>();
        builder.Services.AddSingleton<ConfigState>();
        builder.Services.AddSingleton(TimeProvider.System);

        builder.AddLbProxyLogging();
        builder.AddKestrelEdgeDefaults();
        builder.Services.AddLbProxyControl();
        builder.Services.AddLbProxyAccessLog();
        builder.Services.AddLbProxyForwarding(builder.Configuration);
        builder.Services.AddLbProxyDemo();
        return builder;
    }

    /// <summary>The same validation as <c>validate PATH</c>: YARP's, ours and the options'.</summary>
    public static Task<IReadOnlyList<ConfigError>> ValidateLbProxyConfigAsync(this WebApplication app) =>
        app.Services.GetRequiredService<ProxyConfigValidator>().ValidateAsync();

    /// <summary>The control plane first, then the reverse proxy with YARP's stages.</summary>
    public static WebApplication MapLbProxy(this WebApplication app)
    {
        app.UseLbProxyControl();
        app.UseRouting();    // explicit, so that routing runs after the control-plane split, not before it
        app.StartDemoOrigins();
        app.MapReverseProxy();
        return app;
    }
}
