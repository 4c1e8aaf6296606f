using System.Diagnostics.Metrics;
using LbProxy.Configuration;
using LbProxy.Edge;
using Microsoft.Extensions.DependencyInjection.Extensions;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using Yarp.ReverseProxy.Configuration;

namespace LbProxy.Metrics;

internal static class MetricsExtensions
{
    /// <summary>
    /// OpenTelemetry with the built-in meters switched on, LbProxy's meter (whichever stage adds instruments to it),
    /// and the Prometheus exporter.
    /// </summary>
    public static IServiceCollection AddLbProxyMetrics(this IServiceCollection services)
    {
        services.AddLbProxyOptions<MetricsOptions>(MetricsOptions.SectionName, static (section, options) => section.Bind(options));
        services.AddSingleton<IConfigCheck, MetricsEndpointCheck>();
        services.AddSingleton<MetricsEndpoint>();
        services.AddSingleton<ProxyMetrics>();
        services.AddSingleton<LiveTraffic>();
        services.TryAddSingleton<IRequestFormatClass, NoRequestFormatClass>(); // Images/ registers the negotiated class first
        services.AddSingleton<IClusterSeries>(static sp => sp.GetRequiredService<ProxyMetrics>());
        services.AddSingleton<DestinationMetrics>();
        services.AddSingleton<ConfigMetrics>();
        services.AddSingleton<ThreadPoolGauges>();
        services.AddSingleton<BuildInfo>();
        services.AddSingleton<IConfigChangeListener, ClusterSeriesConfigListener>();
        TimedForwarder.Decorate(services);  // after AddReverseProxy (in Forwarding): the time upstream
        services.AddOpenTelemetry()
            .ConfigureResource(static resource => resource.AddService("lbproxy", serviceVersion: typeof(MetricsExtensions).Assembly.GetName().Version?.ToString()))
            .WithMetrics(static metrics => metrics
                .AddMeter(LbProxyMeter.Name, LbProxyMeter.Runtime, LbProxyMeter.AspNetCoreHosting, LbProxyMeter.Kestrel, LbProxyMeter.HttpClient)
                .AddPrometheusExporter(static exporter =>
                {
                    // The exporter caches a scrape for 300 ms by default. Every scrape is collected afresh instead:
                    // a count read right after traffic is exact (operators checking a deploy, and the tests), and
                    // a scrape costs little next to the usual 15 s scrape interval. Parallel scrapes still share
                    // one collection while it runs.
                    exporter.ScrapeResponseCacheDurationMilliseconds = 0;
                }));
        services.ConfigureOpenTelemetryMeterProvider(static (provider, metrics) =>
        {
            var selection = new MeterSelection(provider.GetRequiredService<IMeterFactory>());
            metrics.AddView(selection.Select);
        });
        return services;
    }

    /// <summary>
    /// <c>GET /metrics</c>, answered by LbProxy whatever the YARP routes say: the endpoint is ordered before every
    /// route (a YARP route's <c>Order</c> is an int, and a catch-all <c>/{**path}</c> is never more specific), so a
    /// scrape is never forwarded to a backend. Map it before <c>MapReverseProxy</c>: see below.
    /// </summary>
    public static IEndpointRouteBuilder MapLbProxyMetrics(this IEndpointRouteBuilder endpoints)
    {
        // The meter provider listens from its creation; create it before MapReverseProxy loads YARP's first
        // config, so that what is recorded then (each cluster's zero error series) is not lost. The observable
        // instruments are created here too, so they exist from the start.
        endpoints.ServiceProvider.GetRequiredService<MeterProvider>();
        endpoints.ServiceProvider.GetRequiredService<ProxyMetrics>();
        endpoints.ServiceProvider.GetRequiredService<DestinationMetrics>();
        endpoints.ServiceProvider.GetRequiredService<ConfigMetrics>();
        endpoints.ServiceProvider.GetRequiredService<ThreadPoolGauges>();
        endpoints.ServiceProvider.GetRequiredService<BuildInfo>();
        endpoints.MapPrometheusScrapingEndpoint(WellKnownPaths.Metrics).WithOrder(int.MinValue);
        return endpoints;
    }

    /// <summary>
    /// The end of the pipeline: a request that no endpoint matched (no route, no control endpoint) is answered 404
    /// here, as the server's own end would, and counted on the live page's status chart. The endpoints run in the
    /// explicit <c>UseEndpoints</c> before it, which passes on only the requests that matched none: a matched
    /// request never reaches this.
    /// </summary>
    public static WebApplication RunLbProxyNotMatched(this WebApplication app)
    {
        var live = app.Services.GetRequiredService<LiveTraffic>();
        app.UseEndpoints(static _ => { });
        app.Run(context =>
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            live.NotMatched();
            return Task.CompletedTask;
        });
        return app;
    }

    /// <summary>The metrics stage of the proxy pipeline; put it first so it sees every outcome.</summary>
    public static IReverseProxyApplicationBuilder UseLbProxyMetrics(this IReverseProxyApplicationBuilder proxy)
    {
        proxy.UseMiddleware<ProxyMetricsMiddleware>();
        return proxy;
    }
}
