using LbProxy.Health;
using LbProxy.Metrics;
using LbProxy.Tests.Infrastructure;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Yarp.ReverseProxy.Configuration;
using Yarp.ReverseProxy.Forwarder;
using Yarp.ReverseProxy.Model;

namespace LbProxy.Tests.Health;

/// <summary>Outlier ejection alone, on a test clock, with YARP's health updater faked and each answer scripted.</summary>
public sealed class OutlierEjectionMiddlewareTests : IDisposable
{
    private static readonly TimeSpan Duration = TimeSpan.FromSeconds(30);
    private readonly FakeTimeProvider _time = new(DateTimeOffset.UnixEpoch);
    private readonly FakeDestinationHealthUpdater _health;
    private readonly OutlierEjectionMiddleware _middleware;
    private readonly TestMeterFactory _meters = new();
    private readonly OutlierEjectionMetrics _metrics;
    private readonly MetricCollector<long> _ejections;

    public OutlierEjectionMiddlewareTests()
    {
        _health = new FakeDestinationHealthUpdater(_time);
        _metrics = new OutlierEjectionMetrics(_meters);
        _ejections = new MetricCollector<long>(_meters, LbProxyMeter.Name, OutlierEjectionMetrics.EjectionsName);
        _middleware = new OutlierEjectionMiddleware(ForwardAsync, _health, _metrics, _time, NullLogger<OutlierEjectionMiddleware>.Instance);
    }

    [Fact]
    public async Task Invoke_Consecutive5xxReachTheThreshold_EjectsForTheDuration()
    {
        var cluster = Cluster(destinations: 2, consecutive5xx: 3);

        await SendAsync(cluster, "origin-1", 500);
        await SendAsync(cluster, "origin-1", 503);
        Assert.Empty(_health.PassiveCalls);
        await SendAsync(cluster, "origin-1", 502); // the origin's own 502: no forwarder error

        Assert.Equal([("origin-1", DestinationHealth.Unhealthy, Duration)], _health.PassiveCalls);
        Assert.Equal(DestinationHealth.Unhealthy, Destination(cluster, "origin-1").Health.Passive);
        Assert.NotEqual(DestinationHealth.Unhealthy, Destination(cluster, "origin-0").Health.Passive);
    }

    [Theory]
    [InlineData(200)]
    [InlineData(304)]
    [InlineData(404)]
    public async Task Invoke_AnswerBelow500InBetween_StartsTheCountAgain(int status)
    {
        var cluster = Cluster(destinations: 2, consecutive5xx: 3);

        await SendAsync(cluster, "origin-1", 500);
        await SendAsync(cluster, "origin-1", 500);
        await SendAsync(cluster, "origin-1", status);
        await SendAsync(cluster, "origin-1", 500);
        await SendAsync(cluster, "origin-1", 500);
        Assert.Empty(_health.PassiveCalls);

        await SendAsync(cluster, "origin-1", 500);
        Assert.Single(_health.PassiveCalls);
    }

    [Fact]
    public async Task Invoke_ProxyErrorsOnly_NeverEject()
    {
        var cluster = Cluster(destinations: 2, consecutive5xx: 3);

        for (var i = 0; i < 10; i++)
        {
            await SendAsync(cluster, "origin-1", 502, proxyError: true);
        }

        Assert.Empty(_health.PassiveCalls);
    }

    [Fact]
    public async Task Invoke_ProxyErrorsInBetween_DoNotStartTheCountAgain()
    {
        var cluster = Cluster(destinations: 2, consecutive5xx: 3);

        await SendAsync(cluster, "origin-1", 500);
        await SendAsync(cluster, "origin-1", 500);
        await SendAsync(cluster, "origin-1", 504, proxyError: true);
        await SendAsync(cluster, "origin-1", 500);

        Assert.Equal([("origin-1", DestinationHealth.Unhealthy, Duration)], _health.PassiveCalls);
    }

    [Theory]
    [InlineData(2, 50, 1)]
    [InlineData(4, 50, 2)]
    [InlineData(2, 100, 2)]
    [InlineData(3, 10, 0)]
    public async Task Invoke_EveryDestinationFailing_EjectsNoMoreThanMaxEjectedPercent(int destinations, int maxEjectedPercent, int ejected)
    {
        var cluster = Cluster(destinations, consecutive5xx: 3, maxEjectedPercent);

        foreach (var destination in cluster.AllDestinations)
        {
            for (var i = 0; i < 3; i++)
            {
                await SendAsync(cluster, destination.DestinationId, 500);
            }
        }

        Assert.Equal(ejected, cluster.AllDestinations.Count(d => d.Health.Passive == DestinationHealth.Unhealthy));
        Assert.Equal(ejected, _health.PassiveCalls.Count);
        Assert.Equal(ejected, Counted(OutlierEjectionMetrics.Ejected));
        Assert.Equal(destinations - ejected, Counted(OutlierEjectionMetrics.Capped));
    }

    [Fact]
    public async Task Invoke_Ejection_IsCountedForItsClusterAndDestination()
    {
        var cluster = Cluster(destinations: 2, consecutive5xx: 3);

        for (var i = 0; i < 3; i++)
        {
            await SendAsync(cluster, "origin-1", 500);
        }

        var ejection = Assert.Single(Observed(_ejections), static m => m.Value > 0);
        Assert.Equal("images/origin-1/ejected", $"{ejection.Tags["cluster"]}/{ejection.Tags["destination"]}/{ejection.Tags["outcome"]}");
    }

    [Fact]
    public void Configure_OnlyAnEjectingCluster_StartsBothSeriesOfEachDestinationAtZero()
    {
        var destinations = new Dictionary<string, DestinationConfig>
        {
            ["origin-0"] = new() { Address = "http://127.0.0.1:1/" },
            ["origin-1"] = new() { Address = "http://127.0.0.1:2/" },
        };

        _metrics.Configure(ConfiguredIds.From(
            [],
            [
                new ClusterConfig
                {
                    ClusterId = "images",
                    Destinations = destinations,
                    Metadata = new Dictionary<string, string> { [OutlierEjectionSettings.ConsecutiveKey] = "3" },
                },
                new ClusterConfig { ClusterId = "plain", Destinations = destinations },
            ]));
        var series = Observed(_ejections);
        Assert.All(series, static m => Assert.Equal(0, m.Value));
        Assert.Equal(
            ["images/origin-0/capped", "images/origin-0/ejected", "images/origin-1/capped", "images/origin-1/ejected"],
            series.Select(static m => $"{m.Tags["cluster"]}/{m.Tags["destination"]}/{m.Tags["outcome"]}").Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Invoke_RequestInFlightWhenEjected_EjectsAgainForWhatIsLeftOfTheDuration()
    {
        var cluster = Cluster(destinations: 2, consecutive5xx: 3);
        var slowAnswered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var slow = SendAsync(cluster, "origin-1", 200, whileInFlight: slowAnswered.Task);
        for (var i = 0; i < 3; i++)
        {
            await SendAsync(cluster, "origin-1", 500);
        }

        // The slow request crosses YARP's passive health stage on its way back, which marks the destination healthy.
        _time.Advance(TimeSpan.FromSeconds(10));
        Destination(cluster, "origin-1").Health.Passive = DestinationHealth.Healthy;
        slowAnswered.SetResult();
        await slow;

        Assert.Equal(
            [("origin-1", DestinationHealth.Unhealthy, Duration), ("origin-1", DestinationHealth.Unhealthy, Duration - TimeSpan.FromSeconds(10))],
            _health.PassiveCalls);
        Assert.Equal(DestinationHealth.Unhealthy, Destination(cluster, "origin-1").Health.Passive);
    }

    [Fact]
    public async Task Invoke_AfterTheDuration_DestinationIsBackAndCountsAfresh()
    {
        var cluster = Cluster(destinations: 2, consecutive5xx: 3);
        for (var i = 0; i < 3; i++)
        {
            await SendAsync(cluster, "origin-1", 500);
        }

        _time.Advance(Duration);
        await SendAsync(cluster, "origin-1", 200);
        await SendAsync(cluster, "origin-1", 500);
        await SendAsync(cluster, "origin-1", 500);

        Assert.Single(_health.PassiveCalls);
        Assert.Equal(DestinationHealth.Unknown, Destination(cluster, "origin-1").Health.Passive);
        await SendAsync(cluster, "origin-1", 500);
        Assert.Equal(2, _health.PassiveCalls.Count);
        Assert.Equal(DestinationHealth.Unhealthy, Destination(cluster, "origin-1").Health.Passive);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("0")]
    public async Task Invoke_ClusterWithoutEjection_NeverEjects(string? consecutive5xx)
    {
        var metadata = consecutive5xx is null ? null : new Dictionary<string, string> { [OutlierEjectionSettings.ConsecutiveKey] = consecutive5xx };
        var cluster = new FakeReverseProxyFeature("images", new ClusterConfig { ClusterId = "images", Metadata = metadata }, [.. TestDestinations.Make(2)]);

        for (var i = 0; i < 10; i++)
        {
            await SendAsync(cluster, "origin-1", 500);
        }

        Assert.Empty(_health.PassiveCalls);
    }

    [Fact]
    public async Task Invoke_NoDestinationChosen_IsNotCounted()
    {
        var cluster = Cluster(destinations: 2, consecutive5xx: 1);

        await SendAsync(cluster, destinationId: null, 503);

        Assert.Empty(_health.PassiveCalls);
    }

    public void Dispose()
    {
        _ejections.Dispose();
        _meters.Dispose();
        _health.Dispose();
    }

    private long Counted(string outcome) =>
        Observed(_ejections).Where(m => Equals(m.Tags["outcome"], outcome)).Sum(static m => m.Value);

    private static FakeReverseProxyFeature Cluster(int destinations, int consecutive5xx, int maxEjectedPercent = 50) =>
        new("images", new ClusterConfig
        {
            ClusterId = "images",
            Metadata = new Dictionary<string, string>
            {
                [OutlierEjectionSettings.ConsecutiveKey] = $"{consecutive5xx}",
                [OutlierEjectionSettings.MaxEjectedPercentKey] = $"{maxEjectedPercent}",
                [OutlierEjectionSettings.DurationKey] = Duration.ToString(),
            },
        }, [.. TestDestinations.Make(destinations)]);

    private static DestinationState Destination(FakeReverseProxyFeature cluster, string id) =>
        cluster.AllDestinations.Single(d => d.DestinationId == id);

    /// <summary>One request of <paramref name="cluster"/>, answered by <paramref name="destinationId"/> (null: none was chosen).</summary>
    private Task SendAsync(FakeReverseProxyFeature cluster, string? destinationId, int status, bool proxyError = false, Task? whileInFlight = null)
    {
        var context = new DefaultHttpContext();
        context.Features.Set<IReverseProxyFeature>(cluster.NextRequest());
        context.Items[typeof(Answer)] = new Answer(destinationId, status, proxyError, whileInFlight ?? Task.CompletedTask);
        return _middleware.Invoke(context);
    }

    /// <summary>The stages inside ejection (balancing, passive health, forwarding), as the test scripted them.</summary>
    private static async Task ForwardAsync(HttpContext context)
    {
        var answer = (Answer)context.Items[typeof(Answer)]!;
        var proxy = context.GetReverseProxyFeature();
        proxy.ProxiedDestination = proxy.AllDestinations.SingleOrDefault(d => d.DestinationId == answer.DestinationId);
        await answer.WhileInFlight;
        context.Response.StatusCode = answer.Status;
        if (answer.ProxyError)
        {
            context.Features.Set<IForwarderErrorFeature>(new FakeForwarderErrorFeature(ForwarderError.Request));
        }
    }

    private sealed record Answer(string? DestinationId, int Status, bool ProxyError, Task WhileInFlight);

    // The counters are observed at each collection: one observation holds each series' running total.
    private static IReadOnlyList<CollectedMeasurement<long>> Observed(MetricCollector<long> collector)
    {
        collector.RecordObservableInstruments();
        return collector.GetMeasurementSnapshot(clear: true);
    }
}
