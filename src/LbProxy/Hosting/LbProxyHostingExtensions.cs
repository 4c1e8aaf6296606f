using LbProxy.AccessLog;
using LbProxy.Configuration;
using LbProxy.Control;
using LbProxy.Demo;
using LbProxy.Diagnostics;
using LbProxy.Forwarding;
using LbProxy.Health;
using LbProxy.LoadBalancing;
using LbProxy.Metrics;
using LbProxy.Transforms;

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
        builder.AddLbProxyConfiguration();
        builder.AddLbProxyLogging();
        builder.AddKestrelEdgeDefaults();
        builder.Services.AddLbProxyControl();
        builder.Services.AddLbProxyAccessLog();
        builder.Services.AddLbProxyForwarding();
        builder.Services.AddLbProxyTransforms();
        builder.Services.AddLbProxyLoadBalancing();
        builder.Services.AddLbProxyHealth();
        builder.Services.AddLbProxyMetrics();
        builder.Services.AddLbProxyDemo();
        return builder;
    }

    /// <summary>
    /// Validates the config read at start exactly as <c>validate PATH</c> and every reload do, and hands it to
    /// YARP when it is good.
    /// </summary>
    public static Task<IReadOnlyList<ConfigError>> ValidateLbProxyConfigAsync(this WebApplication app) =>
        app.Services.LoadInitialLbProxyConfigAsync();

    /// <summary>The control plane and <c>/metrics</c> first, then the reverse proxy with YARP's stages.</summary>
    public static WebApplication MapLbProxy(this WebApplication app)
    {
        app.UseLbProxyRequestHygiene();       // ambiguous framing and CONNECT refused; every request gets an id
        app.UseLbProxyControl();              // /_lb/* in any spelling, answered here and never forwarded
        app.UseRouting();                     // explicit, so that routing runs after the control-plane split
        app.MapLbProxyMetrics();              // before MapReverseProxy: it listens before YARP's first config
        app.StartDemoOrigins();
        app.MapReverseProxy(static proxy =>
        {
            proxy.UseLbProxyMetrics();        // first, so it counts every outcome, a 503 with no destination too
            proxy.UseNoHealthyDestinationAnswer(); // 503 + Retry-After naming the cluster
            proxy.UseImageFormatNegotiation();  // Accept -> avif | webp | original, before balancing keys on it
            proxy.UseSafeRetries();           // each attempt runs the stages below again, on untried destinations
            proxy.UseSessionAffinity();       // YARP's
            proxy.UseLoadBalancing();         // YARP's, with ConsistentHash and WeightedRoundRobin among its policies
            proxy.UseOutlierEjection();       // consecutive 5xx; outside passive health, which would undo it
            proxy.UsePassiveHealthChecks();   // YARP's (transport failures)
        });
        return app;
    }
}
