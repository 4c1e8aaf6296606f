using LbProxy.Edge;
using LbProxy.Tests.Infrastructure;
using Microsoft.AspNetCore.Http;

namespace LbProxy.Tests.Edge;

public sealed class RequestIdMiddlewareTests
{
    [Fact]
    public void NewId_ThirtyTwoLowercaseHexDigits_NeverTheSameTwice()
    {
        var ids = Enumerable.Range(0, 20_000).Select(_ => RequestIdMiddleware.NewId()).ToList();

        Assert.All(ids, id => Assert.Matches("^[0-9a-f]{32}$", id));
        Assert.Equal(ids.Count, ids.Distinct(StringComparer.Ordinal).Count());
    }

    [Fact]
    public async Task Invoke_UntrustedClient_GetsAFreshIdOnRequestResponseAndTraceIdentifier()
    {
        var middleware = new RequestIdMiddleware(_ => Task.CompletedTask, new TrustedProxies(TestOptions.Monitor<HeadersOptions>(_ => { })));
        var context = new DefaultHttpContext();
        context.Request.Headers["X-Request-Id"] = "client-chosen";

        await middleware.Invoke(context);

        Assert.Matches("^[0-9a-f]{32}$", context.TraceIdentifier);
        Assert.Equal(context.TraceIdentifier, context.Request.Headers["X-Request-Id"].ToString());
        Assert.Equal(context.TraceIdentifier, context.Response.Headers["X-Request-Id"].ToString());
    }
}
