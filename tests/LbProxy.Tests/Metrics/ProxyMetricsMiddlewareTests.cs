using System.Diagnostics.Metrics;
using LbProxy.Metrics;
using LbProxy.Tests.Infrastructure;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Time.Testing;
using Yarp.ReverseProxy.Forwarder;
using Yarp.ReverseProxy.Model;

namespace LbProxy.Tests.Metrics;

public sealed class ProxyMetricsMiddlewareTests : IDisposable
{
    private readonly ServiceProvider _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
    private readonly FakeTimeProvider _time = new();
    private readonly MetricCollector<long> _requests;
    private readonly MetricCollector<double> _duration;
    private readonly MetricCollector<long> _errors;
    private readonly ProxyMetrics _metrics;

    public ProxyMetricsMiddlewareTests()
    {
        var factory = _services.GetRequiredService<IMeterFactory>();
        _metrics = new ProxyMetrics(factory);
        _requests = new MetricCollector<long>(factory, LbProxyMeter.Name, ProxyMetrics.RequestsName);
        _duration = new MetricCollector<double>(factory, LbProxyMeter.Name, ProxyMetrics.DurationName);
        _errors = new MetricCollector<long>(factory, LbProxyMeter.Name, ProxyMetrics.ErrorsName);
    }

    [Fact]
    public async Task Invoke_ProxiedRequest_RecordsOneRequestWithRouteClusterDestinationAndStatus()
    {
        var context = Routed("images", "pool");
        var middleware = Middleware(ctx =>
        {
            ctx.Features.Get<IReverseProxyFeature>()!.ProxiedDestination = new DestinationState("origin-a");
            ctx.Response.StatusCode = 200;
            _time.Advance(TimeSpan.FromMilliseconds(250));
            return Task.CompletedTask;
        });

        await middleware.Invoke(context);

        var request = Assert.Single(Observed(_requests));
        Assert.Equal(1, request.Value);
        Assert.Equal("images", request.Tags[MetricTags.Route]);
        Assert.Equal("pool", request.Tags[MetricTags.Cluster]);
        Assert.Equal("origin-a", request.Tags[MetricTags.Destination]);
        Assert.Equal(200, request.Tags[MetricTags.StatusCode]);
        var duration = Assert.Single(_duration.GetMeasurementSnapshot());
        Assert.Equal(0.25, duration.Value, precision: 6);
        Assert.Equal(["cluster", "destination", "route"], duration.Tags.Keys.Order());
        Assert.Empty(Observed(_errors));
    }

    [Fact]
    public async Task Invoke_NoAvailableDestination_RecordsNoDestinationAndTheErrorKind()
    {
        var context = Routed("images", "pool");
        var middleware = Middleware(static ctx =>
        {
            ctx.Response.StatusCode = 503;
            ctx.Features.Set<IForwarderErrorFeature>(new FakeForwarderErrorFeature(ForwarderError.NoAvailableDestinations));
            return Task.CompletedTask;
        });

        await middleware.Invoke(context);

        var request = Assert.Single(Observed(_requests));
        Assert.Equal(ProxyMetrics.NoDestination, request.Tags[MetricTags.Destination]);
        Assert.Equal(503, request.Tags[MetricTags.StatusCode]);
        var error = Assert.Single(Observed(_errors));
        Assert.Equal("NoAvailableDestinations", error.Tags[MetricTags.Error]);
        Assert.Equal("pool", error.Tags[MetricTags.Cluster]);
    }

    [Fact]
    public async Task Invoke_LaterStageThrows_RecordsA500AndRethrows()
    {
        var context = Routed("images", "pool");
        var middleware = Middleware(static _ => throw new InvalidOperationException("boom"));

        await Assert.ThrowsAsync<InvalidOperationException>(() => middleware.Invoke(context));

        var request = Assert.Single(Observed(_requests));
        Assert.Equal(500, request.Tags[MetricTags.StatusCode]);
    }

    [Fact]
    public async Task Invoke_TwoRequestsAlike_CountTwoInOneSeries()
    {
        var middleware = Middleware(static ctx =>
        {
            ctx.Response.StatusCode = 404;
            return Task.CompletedTask;
        });

        await middleware.Invoke(Routed("images", "pool"));
        await middleware.Invoke(Routed("images", "pool"));

        var request = Assert.Single(Observed(_requests));
        Assert.Equal(2, request.Value);
        Assert.Equal(404, request.Tags[MetricTags.StatusCode]);
    }

    public void Dispose()
    {
        _requests.Dispose();
        _duration.Dispose();
        _errors.Dispose();
        _services.Dispose();
    }

    private ProxyMetricsMiddleware Middleware(RequestDelegate next) => new(next, _metrics, new LiveTraffic(), new NoRequestFormatClass(), _time);

    private static DefaultHttpContext Routed(string routeId, string clusterId)
    {
        var context = new DefaultHttpContext();
        context.Features.Set<IReverseProxyFeature>(new FakeReverseProxyFeature(routeId, clusterId));
        return context;
    }

    // The counters are observed at each collection: one observation holds each series' running total.
    private static IReadOnlyList<CollectedMeasurement<long>> Observed(MetricCollector<long> collector)
    {
        collector.RecordObservableInstruments();
        return collector.GetMeasurementSnapshot(clear: true);
    }
}
