using LbProxy.AccessLog;
using LbProxy.Caching;
using LbProxy.Admission;
using LbProxy.Configuration;
using LbProxy.Control;
using LbProxy.Demo;
using LbProxy.Diagnostics;
using LbProxy.Discovery;
using LbProxy.Edge;
using LbProxy.Forwarding;
using LbProxy.Health;
using LbProxy.Images;
using LbProxy.LoadBalancing;
using LbProxy.Logging;
using LbProxy.Metrics;
using LbProxy.RateLimiting;
using LbProxy.Tls;
using LbProxy.Transforms;

namespace LbProxy.Hosting;

/// <summary>Wires every stage, in the order requests meet them; nothing else lives here.</summary>
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
        builder.AddLbProxyTls();              // after the config file: Kestrel serves validated copies of its certificates
        var services = builder.Services;
        services.AddLbProxyDiagnostics();
        services.AddLbProxyEdge();
        services.AddLbProxyControl();
        services.AddLbProxyAccessLog();
        services.AddLbProxyForwarding();
        services.AddLbProxyDiscovery();       // after AddReverseProxy (in Forwarding): its resolver replaces YARP's no-op one
        services.AddLbProxyRateLimiting();    // after AddReverseProxy (in Forwarding): it wraps YARP's config validator
        services.AddLbProxyImages();
        services.AddLbProxyCaching();
        services.AddLbProxyTransforms();
        services.AddLbProxyLoadBalancing();
        services.AddLbProxyHealth();
        services.AddLbProxyAdmission();
        services.AddLbProxyMetrics();
        services.AddLbProxyDemo();
        return builder;
    }

    /// <summary>
    /// Loads the config read at start, checks it exactly as <c>validate PATH</c> and every reload do, and applies
    /// it when it is good. Returns every error; nothing is applied when there is one.
    /// </summary>
    public static Task<IReadOnlyList<ConfigError>> LoadAndApplyLbProxyConfigAsync(this WebApplication app) =>
        app.Services.LoadAndApplyInitialConfigAsync();

    /// <summary>The whole request pipeline, every stage in the order a request meets it.</summary>
    public static WebApplication UseLbProxy(this WebApplication app)
    {
        app.UseLbProxyAccessLog();            // outermost: one line per request, with the status the client got
        app.UseLbProxyHsts();                 // Strict-Transport-Security on every HTTPS response, when configured
        app.UseRequestGuard();                // ambiguous framing → 400, CONNECT → 501, TRACE → 405
        app.UseRequestId();                   // every request gets an id
        app.UseLbProxyControl();              // /_lb/* and /metrics in any spelling: answered here, never forwarded
        app.UseLbProxyHttpsRedirect();        // plain HTTP on a redirecting endpoint: 301/308 to HTTPS, never forwarded
        app.UseRequestBodyBuffer();           // bodies up to BufferBodyUpTo read whole: bad framing → 400, never forwarded
        app.UseRouting();                     // explicit, so that routing runs after the control-plane split
        app.MapLbProxyMetrics();              // before MapReverseProxy: it listens before YARP's first config
        app.MapReverseProxy(static proxy =>   // YARP loads the applied config here; its pipeline is built once
        {
            proxy.UseLbProxyMetrics();        // first, so it counts every outcome, a 503 with no destination too
            proxy.UseStalledClientCut();      // an HTTP/2 client that takes no response bytes loses its connection
            proxy.UseWebSocketRoutes();       // upgrades only on routes with "WebSockets.Enabled": "true"; elsewhere a plain request
            proxy.UseRequestDecisionLog();    // at Debug: route, cluster, destination, attempts, status, time
            proxy.UseRateLimits();            // the route's RateLimiterPolicy: over the limit, 429 + Retry-After, never forwarded
            proxy.UseNoHealthyDestinationAnswer(); // 503 + Retry-After naming the cluster
            proxy.UseImageFormatNegotiation();  // Accept -> avif | webp | original, before balancing keys on it
            proxy.UseResponseCache();         // cached routes: hits from memory, one origin request per key and class
            proxy.UseClusterCapacity();       // a cluster's requests in flight capped, waiters served a client connection at a time; 503 when shed
            proxy.UseSafeRetries();           // each attempt runs the stages below again, on untried destinations
            proxy.UseSessionAffinity();       // YARP's
            proxy.UseAdmission();             // a slot per destination or a place in the queue; 503 + Retry-After when shed
            proxy.UseLoadBalancing();         // YARP's, with ConsistentHash and WeightedRoundRobin among its policies
            proxy.UseAttemptLog();            // at Debug: each attempt's destination and outcome
            proxy.UseOutlierEjection();       // consecutive 5xx; outside passive health, which would undo it
            proxy.UsePassiveHealthChecks();   // YARP's (transport failures; a refused connection takes a destination out at once)
        });
        app.RunLbProxyNotMatched();           // the endpoints, then a 404 for a path no route matches, counted on the live page
        return app;
    }
}
