using System.Net.Sockets;
using LbProxy.Health;
using LbProxy.Tests.Infrastructure;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Yarp.ReverseProxy.Configuration;
using Yarp.ReverseProxy.Forwarder;
using Yarp.ReverseProxy.Health;
using Yarp.ReverseProxy.Model;

namespace LbProxy.Tests.Health;

/// <summary>
/// Which connect failures take a destination out. The refused case runs for real in <c>OriginKillTests</c>; a
/// machine out of local ports cannot be made here without starving the whole test run, so its socket error is
/// handed to the policy as the upstream client reports it.
/// </summary>
public sealed class RefusedConnectionPolicyTests : IDisposable
{
    private readonly FakeTimeProvider _time = new();
    private readonly FakeDestinationHealthUpdater _health;
    private readonly NoOpPolicy _inner = new();
    private readonly RefusedConnectionPolicy _policy;

    public RefusedConnectionPolicyTests()
    {
        _health = new FakeDestinationHealthUpdater(_time);
        _policy = new RefusedConnectionPolicy(_inner, _health, TestOptions.Monitor<HealthOptions>(), _time, NullLogger<RefusedConnectionPolicy>.Instance);
    }

    [Fact]
    public void RequestProxied_ConnectionRefused_TakesTheDestinationOut()
    {
        var (cluster, destination) = Destination();

        _policy.RequestProxied(Failed(SocketError.ConnectionRefused), cluster, destination);

        Assert.Equal(DestinationHealth.Unhealthy, destination.Health.Passive);
    }

    [Theory]
    [InlineData(SocketError.AddressNotAvailable)]
    [InlineData(SocketError.AddressAlreadyInUse)]
    [InlineData(SocketError.NoBufferSpaceAvailable)]
    [InlineData(SocketError.TooManyOpenSockets)]
    public void RequestProxied_ConnectFailedForALocalReason_TakesNothingOut(SocketError local)
    {
        var (cluster, destination) = Destination();

        _policy.RequestProxied(Failed(local), cluster, destination);

        Assert.NotEqual(DestinationHealth.Unhealthy, destination.Health.Passive);
        Assert.Empty(_health.PassiveCalls);
        // Nor counted by the inner policy's failure rate: descriptors running out took every destination out that way.
        Assert.Equal(0, _inner.Calls);
    }

    [Fact]
    public void RequestProxied_ConnectTimedOut_TakesTheDestinationOut()
    {
        var (cluster, destination) = Destination();
        // SocketsHttpHandler's ConnectTimeout: a cancellation around a TimeoutException, which YARP reports as RequestTimedOut.
        var exception = new TaskCanceledException("canceled", new TimeoutException("A connection could not be established within the configured ConnectTimeout."));

        _policy.RequestProxied(Failed(ForwarderError.RequestTimedOut, exception), cluster, destination);

        Assert.Equal(DestinationHealth.Unhealthy, destination.Health.Passive);
        Assert.Equal(1, _inner.Calls);
    }

    [Fact]
    public void RequestProxied_NoResponseWithinTheActivityTimeout_TakesTheDestinationOut()
    {
        var (cluster, destination) = Destination();

        _policy.RequestProxied(Failed(ForwarderError.RequestTimedOut, new TaskCanceledException("canceled")), cluster, destination);

        Assert.Equal(DestinationHealth.Unhealthy, destination.Health.Passive);
    }

    [Fact]
    public void RequestProxied_ResponseBodyFailedAfterTheHeaders_TakesNothingOut()
    {
        var (cluster, destination) = Destination();

        _policy.RequestProxied(Failed(ForwarderError.ResponseBodyDestination, new IOException("reset")), cluster, destination);

        Assert.Empty(_health.PassiveCalls);
    }

    public void Dispose() => _health.Dispose();

    private static (ClusterState Cluster, DestinationState Destination) Destination()
    {
        var destination = new DestinationState("origin-0");
        var feature = new FakeReverseProxyFeature("images", new ClusterConfig { ClusterId = "images" }, destination);
        return (feature.ClusterState, destination);
    }

    /// <summary>A forward that failed while connecting, as YARP reports the upstream client's exception.</summary>
    private static DefaultHttpContext Failed(SocketError socketError) =>
        Failed(ForwarderError.Request, new HttpRequestException(HttpRequestError.ConnectionError, "connect failed", new SocketException((int)socketError)));

    private static DefaultHttpContext Failed(ForwarderError error, Exception exception)
    {
        var context = new DefaultHttpContext();
        context.Features.Set<IForwarderErrorFeature>(new FakeForwarderErrorFeature(error, exception));
        return context;
    }

    private sealed class NoOpPolicy : IPassiveHealthCheckPolicy
    {
        public int Calls { get; private set; }

        public string Name => "NoOp";

        public void RequestProxied(HttpContext context, ClusterState cluster, DestinationState destination) => Calls++;
    }
}
