using LbProxy.Forwarding;
using LbProxy.Health;
using LbProxy.Tests.Infrastructure;
using Yarp.ReverseProxy.Configuration;
using Yarp.ReverseProxy.Forwarder;
using Yarp.ReverseProxy.Model;

namespace LbProxy.Tests.Health;

/// <summary>
/// Which failed forwards become the cluster's 503 with <c>Retry-After</c>: none available, or retries exhausted as the
/// retry stage says with <see cref="RetriesExhaustedFeature"/>; any other failure keeps YARP's status.
/// </summary>
public sealed class NoHealthyDestinationMiddlewareTests
{
    [Fact]
    public async Task Invoke_NoDestinationAvailable_AnswersTheClusters503()
    {
        var context = Forwarded(ForwarderError.NoAvailableDestinations, StatusCodes.Status503ServiceUnavailable);

        await Middleware().Invoke(context);

        AssertClusters503(context);
    }

    [Theory]
    [InlineData(ForwarderError.Request)]
    [InlineData(ForwarderError.RequestTimedOut)]
    public async Task Invoke_RetriesExhausted_AnswersTheClusters503(ForwarderError error)
    {
        var context = Forwarded(error, StatusCodes.Status502BadGateway);
        context.Features.Set(RetriesExhaustedFeature.Instance);

        await Middleware().Invoke(context);

        AssertClusters503(context);
    }

    [Theory]
    [InlineData(ForwarderError.Request, StatusCodes.Status502BadGateway)]
    [InlineData(ForwarderError.RequestTimedOut, StatusCodes.Status504GatewayTimeout)]
    public async Task Invoke_FailedWithoutExhaustingRetries_KeepsYarpsStatus(ForwarderError error, int status)
    {
        var context = Forwarded(error, status);

        await Middleware().Invoke(context);

        Assert.Equal(status, context.Response.StatusCode);
        Assert.False(context.Response.Headers.ContainsKey("Retry-After"));
    }

    [Fact]
    public async Task Invoke_RetriesExhaustedButAnswerOfAnotherKind_KeepsYarpsStatus()
    {
        // Only failures before any response say that no destination answered.
        var context = Forwarded(ForwarderError.ResponseBodyDestination, StatusCodes.Status502BadGateway);
        context.Features.Set(RetriesExhaustedFeature.Instance);

        await Middleware().Invoke(context);

        Assert.Equal(StatusCodes.Status502BadGateway, context.Response.StatusCode);
    }

    private static NoHealthyDestinationMiddleware Middleware() =>
        new(static _ => Task.CompletedTask, TestOptions.Monitor<HealthOptions>(static o => o.RetryAfterSeconds = 7));

    /// <summary>A request of cluster <c>images</c> whose forward YARP reported as <paramref name="error"/>.</summary>
    private static DefaultHttpContext Forwarded(ForwarderError error, int status)
    {
        var context = new DefaultHttpContext();
        context.Features.Set<IReverseProxyFeature>(
            new FakeReverseProxyFeature("images", new ClusterConfig { ClusterId = "images" }, [.. TestDestinations.Make(1)]));
        context.Features.Set<IForwarderErrorFeature>(new FakeForwarderErrorFeature(error));
        context.Response.StatusCode = status;
        context.Response.Body = new MemoryStream();
        return context;
    }

    private static void AssertClusters503(HttpContext context)
    {
        Assert.Equal(StatusCodes.Status503ServiceUnavailable, context.Response.StatusCode);
        Assert.Equal("7", context.Response.Headers.RetryAfter.ToString());
        Assert.Equal("no-store", context.Response.Headers.CacheControl.ToString());
        Assert.Equal("503 no healthy destination in cluster 'images'\n", System.Text.Encoding.UTF8.GetString(((MemoryStream)context.Response.Body).ToArray()));
    }
}
