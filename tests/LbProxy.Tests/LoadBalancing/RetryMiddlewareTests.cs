using System.Diagnostics.Metrics;
using System.Net.Sockets;
using LbProxy.Forwarding;
using LbProxy.LoadBalancing;
using LbProxy.Metrics;
using LbProxy.Tests.Infrastructure;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Yarp.ReverseProxy.Configuration;
using Yarp.ReverseProxy.Forwarder;
using Yarp.ReverseProxy.Model;

namespace LbProxy.Tests.LoadBalancing;

/// <summary>
/// The retry stage alone. The stages after it are played by <see cref="ForwardAsync"/>: YARP's balancer takes
/// the first destination it is offered, and the forwarder fails there as <see cref="_failures"/> says, or
/// the origin answers (200 unless <see cref="_statuses"/> says otherwise).
/// </summary>
public sealed class RetryMiddlewareTests : IDisposable
{
    private const string FailedAttemptHeader = "X-Failed-Attempt";
    private readonly ServiceProvider _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
    private readonly FakeTimeProvider _time = new(DateTimeOffset.UnixEpoch);
    private readonly MetricCollector<long> _retries;
    private readonly RetryMetrics _metrics;
    private readonly Dictionary<string, ForwarderError> _failures = [];
    private readonly Dictionary<string, int> _statuses = [];
    private readonly List<string> _offered = [];
    private Exception? _failureException;

    public RetryMiddlewareTests()
    {
        var factory = _services.GetRequiredService<IMeterFactory>();
        _metrics = new RetryMetrics(factory);
        _retries = new MetricCollector<long>(factory, LbProxyMeter.Name, RetryMetrics.RetriesName);
    }

    [Fact]
    public async Task Invoke_GetFailsToConnect_IsRetriedOnAnUntriedDestinationAsIfTheFailureHadNotHappened()
    {
        _failures["origin-0"] = ForwarderError.Request;
        var context = Request("GET", destinations: 3);

        await Middleware().Invoke(context);

        Assert.Equal(["origin-0 origin-1 origin-2", "origin-1 origin-2"], _offered);
        Assert.Equal(StatusCodes.Status200OK, context.Response.StatusCode);
        Assert.Null(context.Features.Get<IForwarderErrorFeature>());
        Assert.False(context.Response.Headers.ContainsKey(FailedAttemptHeader));
        Assert.Equal("origin-1", context.GetReverseProxyFeature().ProxiedDestination?.DestinationId);
        Assert.Equal(1, Retries(RetryMetrics.Succeeded));
    }

    [Theory]
    [InlineData(ForwarderError.Request)]
    [InlineData(ForwarderError.RequestTimedOut)]
    public async Task Invoke_FailureBeforeAnyResponse_IsRetried(ForwarderError error)
    {
        var context = FailingFirst("GET", error);

        await Middleware().Invoke(context);

        Assert.Equal(2, _offered.Count);
        Assert.Equal(StatusCodes.Status200OK, context.Response.StatusCode);
    }

    [Theory]
    [InlineData(ForwarderError.RequestCanceled)]
    [InlineData(ForwarderError.RequestBodyDestination)]
    [InlineData(ForwarderError.ResponseBodyDestination)]
    [InlineData(ForwarderError.NoAvailableDestinations)]
    public async Task Invoke_OtherFailureKinds_AreNotRetried(ForwarderError error)
    {
        var context = FailingFirst("GET", error);

        await Middleware().Invoke(context);

        AssertNotRetried(context);
    }

    [Fact]
    public async Task Invoke_OriginAnswers5xx_IsNotRetried()
    {
        _statuses["origin-0"] = StatusCodes.Status503ServiceUnavailable;
        var context = Request("GET", destinations: 2);

        await Middleware().Invoke(context);

        Assert.Single(_offered);
        Assert.Equal(StatusCodes.Status503ServiceUnavailable, context.Response.StatusCode);
        Assert.Empty(Observed(_retries));
    }

    [Theory]
    [InlineData("POST")]
    [InlineData("PUT")]
    [InlineData("DELETE")]
    [InlineData("PATCH")]
    [InlineData("OPTIONS")]
    public async Task Invoke_MethodNotRetriedByDefault_IsNotRetried(string method)
    {
        var context = FailingFirst(method);

        await Middleware().Invoke(context);

        AssertNotRetried(context);
    }

    [Theory]
    [InlineData("GET")]
    [InlineData("HEAD")]
    [InlineData("get")]
    public async Task Invoke_DefaultMethods_AreRetried(string method)
    {
        var context = FailingFirst(method);

        await Middleware().Invoke(context);

        Assert.Equal(2, _offered.Count);
    }

    [Fact]
    public async Task Invoke_MethodsNarrowedToGet_HeadIsNotRetried()
    {
        var head = FailingFirst("HEAD");
        var middleware = Middleware(o => o.Methods = ["GET"]);

        await middleware.Invoke(head);

        AssertNotRetried(head);
    }

    [Theory]
    [InlineData("Content-Length", "4")]
    [InlineData("Transfer-Encoding", "chunked")]
    public async Task Invoke_GetWithABody_IsNotRetried(string header, string value)
    {
        var context = FailingFirst("GET");
        context.Request.Headers[header] = value;

        await Middleware().Invoke(context);

        AssertNotRetried(context);
    }

    [Fact]
    public async Task Invoke_ServerSaysTheRequestCanHaveABody_IsNotRetried()
    {
        var context = FailingFirst("GET");
        context.Features.Set<IHttpRequestBodyDetectionFeature>(new BodyDetection(canHaveBody: true));

        await Middleware().Invoke(context);

        AssertNotRetried(context);
    }

    [Fact]
    public async Task Invoke_ResponseAlreadyStarted_IsNotRetried()
    {
        var context = FailingFirst("GET");
        context.Features.Set<IHttpResponseFeature>(new StartedResponse());

        await Middleware().Invoke(context);

        AssertNotRetried(context);
    }

    [Fact]
    public async Task Invoke_ClientGone_IsNotRetried()
    {
        var context = FailingFirst("GET");
        context.RequestAborted = new CancellationToken(canceled: true);

        await Middleware().Invoke(context);

        AssertNotRetried(context);
    }

    [Fact]
    public async Task Invoke_BudgetSpent_IsNotRetriedAndCountedAsBudgetExhausted()
    {
        var context = FailingFirst("GET");

        await Middleware(o => (o.BudgetPercent, o.MinRetriesPerSecond) = (0, 0)).Invoke(context);

        AssertNotRetried(context);
        Assert.Equal(1, Retries(RetryMetrics.BudgetExhausted));
    }

    [Fact]
    public async Task Invoke_ConnectionRefused_IsRetriedOutsideTheBudget()
    {
        // What YARP reports for a refused connection: the upstream client's error, of the connection phase.
        _failureException = new HttpRequestException(HttpRequestError.ConnectionError, "Connection refused (127.0.0.1:9)",
            new SocketException((int)SocketError.ConnectionRefused));
        var context = FailingFirst("GET");

        await Middleware(o => (o.BudgetPercent, o.MinRetriesPerSecond) = (0, 0)).Invoke(context);

        Assert.Equal(2, _offered.Count);
        Assert.Equal(StatusCodes.Status200OK, context.Response.StatusCode);
        Assert.Equal(1, Retries(RetryMetrics.Succeeded));
        Assert.Equal(0, Retries(RetryMetrics.BudgetExhausted));
    }

    [Fact]
    public async Task Invoke_ConnectTimedOut_IsRetriedOutsideTheBudget()
    {
        // SocketsHttpHandler's ConnectTimeout as YARP reports it: RequestTimedOut, a cancellation around a TimeoutException.
        _failureException = new TaskCanceledException("canceled", new TimeoutException("A connection could not be established within the configured ConnectTimeout."));
        var context = FailingFirst("GET", ForwarderError.RequestTimedOut);

        await Middleware(o => (o.BudgetPercent, o.MinRetriesPerSecond) = (0, 0)).Invoke(context);

        Assert.Equal(2, _offered.Count);
        Assert.Equal(StatusCodes.Status200OK, context.Response.StatusCode);
        Assert.Equal(0, Retries(RetryMetrics.BudgetExhausted));
    }

    [Fact]
    public async Task Invoke_ResponseTimedOutTwice_IsNotRetriedAThirdTime()
    {
        // No response headers within the activity timeout, twice: a client waits one timeout, then one more at most.
        _failures["origin-0"] = ForwarderError.RequestTimedOut;
        _failures["origin-1"] = ForwarderError.RequestTimedOut;
        var context = Request("GET", destinations: 3);

        await Middleware(o => o.MaxAttempts = 3).Invoke(context);

        Assert.Equal(["origin-0 origin-1 origin-2", "origin-1 origin-2"], _offered);
        Assert.Equal(ForwarderError.RequestTimedOut, context.Features.Get<IForwarderErrorFeature>()?.Error);
    }

    [Theory]
    [InlineData(SocketError.TooManyOpenSockets)]
    [InlineData(SocketError.AddressNotAvailable)]
    public async Task Invoke_ConnectFailedForALocalReason_IsNotRetriedAndAnsweredAtCapacity(SocketError local)
    {
        // Out of descriptors, ports or the upstream connection cap: another destination would fail alike.
        _failureException = new HttpRequestException(HttpRequestError.ConnectionError, "local", new SocketException((int)local));
        var context = FailingFirst("GET");

        await Middleware().Invoke(context);

        Assert.Single(_offered);
        Assert.Same(RetriesExhaustedFeature.AtCapacity, context.Features.Get<RetriesExhaustedFeature>());
    }

    [Theory]
    [InlineData(HttpRequestError.ResponseEnded)]
    [InlineData(HttpRequestError.InvalidResponse)]
    [InlineData(HttpRequestError.Unknown)]
    public async Task Invoke_FailureAfterTheRequestWasSent_StaysWithinTheBudget(HttpRequestError phase)
    {
        // The origin may have seen these: a reset inside a SocketException, but after the connect.
        _failureException = new HttpRequestException(phase, "The response ended prematurely.",
            new IOException("reset", new SocketException((int)SocketError.ConnectionReset)));
        var context = FailingFirst("GET");

        await Middleware(o => (o.BudgetPercent, o.MinRetriesPerSecond) = (0, 0)).Invoke(context);

        AssertNotRetried(context);
        Assert.Equal(1, Retries(RetryMetrics.BudgetExhausted));
    }

    [Fact]
    public async Task Invoke_OnlyDestinationFails_SaysRetriesAreExhaustedAndItIsCountedAsNoDestination()
    {
        _failures["origin-0"] = ForwarderError.Request;
        var context = Request("GET", destinations: 1);

        await Middleware().Invoke(context);

        // The stage outside (Health) answers the cluster's 503 when it reads this.
        Assert.Single(_offered);
        Assert.Same(RetriesExhaustedFeature.Instance, context.Features.Get<RetriesExhaustedFeature>());
        Assert.Equal(1, Retries(RetryMetrics.NoDestination));
    }

    [Fact]
    public async Task Invoke_EveryDestinationFails_EachIsTriedOnceThenRetriesAreExhausted()
    {
        _failures["origin-0"] = ForwarderError.Request;
        _failures["origin-1"] = ForwarderError.RequestTimedOut;
        var context = Request("GET", destinations: 2);

        await Middleware().Invoke(context);

        Assert.Equal(["origin-0 origin-1", "origin-1"], _offered);
        Assert.NotNull(context.Features.Get<RetriesExhaustedFeature>());
        Assert.Equal(1, Retries(RetryMetrics.Failed));
        Assert.Equal(1, Retries(RetryMetrics.NoDestination));
    }

    [Fact]
    public async Task Invoke_FailuresBeyondMaxAttempts_StopAtTheCapWithTheLastFailure()
    {
        _failures["origin-0"] = ForwarderError.Request;
        _failures["origin-1"] = ForwarderError.Request;
        _failures["origin-2"] = ForwarderError.Request;
        var context = Request("GET", destinations: 4);

        await Middleware(o => o.MaxAttempts = 3).Invoke(context);

        Assert.Equal(["origin-0 origin-1 origin-2 origin-3", "origin-1 origin-2 origin-3", "origin-2 origin-3"], _offered);
        Assert.Equal(StatusCodes.Status502BadGateway, context.Response.StatusCode);
        Assert.Equal(ForwarderError.Request, context.Features.Get<IForwarderErrorFeature>()?.Error);
        Assert.Null(context.Features.Get<RetriesExhaustedFeature>()); // a destination was left untried: the 502 stays
        Assert.Equal(2, Retries(RetryMetrics.Failed));
        Assert.Equal(0, Retries(RetryMetrics.Succeeded));
    }

    [Theory]
    [InlineData(false, 3)]
    [InlineData(true, 1)]
    public async Task Invoke_RetriesDisabledOrOneAttempt_IsNotRetried(bool enabled, int maxAttempts)
    {
        var context = FailingFirst("GET");

        await Middleware(o => (o.Enabled, o.MaxAttempts) = (enabled, maxAttempts)).Invoke(context);

        AssertNotRetried(context);
    }

    public void Dispose()
    {
        _retries.Dispose();
        _services.Dispose();
    }

    private void AssertNotRetried(HttpContext context)
    {
        Assert.Single(_offered);
        Assert.Equal(StatusCodes.Status502BadGateway, context.Response.StatusCode);
        Assert.NotNull(context.Features.Get<IForwarderErrorFeature>());
        Assert.Null(context.Features.Get<RetriesExhaustedFeature>());
        Assert.Equal(0, Retries(RetryMetrics.Succeeded) + Retries(RetryMetrics.Failed));
    }

    private long Retries(string outcome) =>
        Observed(_retries).Where(m => Equals(m.Tags[MetricTags.Outcome], outcome)).Sum(m => m.Value);

    private RetryMiddleware Middleware(Action<RetryOptions>? configure = null)
    {
        var options = TestOptions.Monitor(configure);
        return new RetryMiddleware(ForwardAsync, options, new RetryBudgets(_time, options), _metrics, NullLogger<RetryMiddleware>.Instance);
    }

    /// <summary>A request to two destinations, of which the first one offered fails with <paramref name="error"/>.</summary>
    private DefaultHttpContext FailingFirst(string method, ForwarderError error = ForwarderError.Request)
    {
        _failures["origin-0"] = error;
        return Request(method, destinations: 2);
    }

    private static DefaultHttpContext Request(string method, int destinations)
    {
        var context = new DefaultHttpContext();
        context.Request.Method = method;
        context.Features.Set<IReverseProxyFeature>(
            new FakeReverseProxyFeature("images", new ClusterConfig { ClusterId = "images" }, [.. TestDestinations.Make(destinations)]));
        return context;
    }

    /// <summary>Balancing and forwarding: the first destination offered is used; it answers or fails as told.</summary>
    private Task ForwardAsync(HttpContext context)
    {
        var proxy = context.GetReverseProxyFeature();
        _offered.Add(string.Join(" ", proxy.AvailableDestinations.Select(static d => d.DestinationId)));
        var destination = proxy.AvailableDestinations[0];
        proxy.ProxiedDestination = destination;
        if (_failures.TryGetValue(destination.DestinationId, out var error))
        {
            context.Response.StatusCode = StatusCodes.Status502BadGateway;
            context.Response.Headers[FailedAttemptHeader] = destination.DestinationId;
            context.Features.Set<IForwarderErrorFeature>(new FakeForwarderErrorFeature(error, _failureException));
        }
        else
        {
            context.Response.StatusCode = _statuses.GetValueOrDefault(destination.DestinationId, StatusCodes.Status200OK);
        }

        return Task.CompletedTask;
    }

    private sealed class BodyDetection(bool canHaveBody) : IHttpRequestBodyDetectionFeature
    {
        public bool CanHaveBody { get; } = canHaveBody;
    }

    private sealed class StartedResponse : HttpResponseFeature
    {
        public override bool HasStarted => true;
    }

    // The counters are observed at each collection: one observation holds each series' running total.
    private static IReadOnlyList<CollectedMeasurement<long>> Observed(MetricCollector<long> collector)
    {
        collector.RecordObservableInstruments();
        return collector.GetMeasurementSnapshot(clear: true);
    }
}
