using System.Net;
using LbProxy.Control;
using Microsoft.AspNetCore.Http;
using LbProxy.Tests.Infrastructure;

namespace LbProxy.Tests.Control;

public sealed class ControlAccessTests
{
    private const string Token = "s3cret-token";

    [Theory]
    [InlineData("Bearer s3cret-token", true)]
    [InlineData("bearer s3cret-token", true)]
    [InlineData("Bearer  s3cret-token ", true)]
    [InlineData("Bearer s3cret-tokeN", false)]
    [InlineData("Bearer s3cret-token2", false)]
    [InlineData("Bearer s3cret-toke", false)]
    [InlineData("Bearer ", false)]
    [InlineData("Basic czNjcmV0LXRva2Vu", false)]
    [InlineData("s3cret-token", false)]
    [InlineData(null, false)]
    public void IsAllowed_TokenConfigured_OnlyTheExactBearerToken(string? authorization, bool expected)
    {
        var access = new ControlAccess(TestOptions.Monitor<ControlOptions>(static o => o.Token = Token));
        var context = Request(IPAddress.Loopback, authorization);

        Assert.Equal(expected, access.IsAllowed(context));
    }

    [Fact]
    public void IsAllowed_TokenConfigured_TwoAuthorizationHeadersAreRefused()
    {
        var access = new ControlAccess(TestOptions.Monitor<ControlOptions>(static o => o.Token = Token));
        var context = Request(IPAddress.Loopback, null);
        context.Request.Headers.Authorization = new(["Bearer wrong", "Bearer " + Token]);

        Assert.False(access.IsAllowed(context));
    }

    [Fact]
    public void IsAllowed_TokenConfigured_HugeHeaderIsRefused()
    {
        var access = new ControlAccess(TestOptions.Monitor<ControlOptions>(static o => o.Token = Token));

        Assert.False(access.IsAllowed(Request(IPAddress.Loopback, "Bearer " + new string('x', 100_000))));
    }

    [Theory]
    [InlineData("127.0.0.1", true)]
    [InlineData("127.1.2.3", true)]
    [InlineData("::1", true)]
    [InlineData("::ffff:127.0.0.1", true)]
    [InlineData("10.0.0.1", false)]
    [InlineData("203.0.113.7", false)]
    [InlineData("2001:db8::1", false)]
    public void IsAllowed_NoTokenConfigured_LoopbackClientsOnly(string address, bool expected)
    {
        var access = new ControlAccess(TestOptions.Monitor<ControlOptions>());

        Assert.Equal(expected, access.IsAllowed(Request(IPAddress.Parse(address), "Bearer anything")));
    }

    [Fact]
    public void IsAllowed_NoTokenConfiguredNoAddress_IsRefused()
    {
        var access = new ControlAccess(TestOptions.Monitor<ControlOptions>());

        Assert.False(access.IsAllowed(new DefaultHttpContext()));
    }

    [Theory]
    [InlineData("X-Forwarded-For", "203.0.113.7")]
    [InlineData("X-Forwarded-For", "127.0.0.1")]
    [InlineData("x-forwarded-for", "")]
    [InlineData("Forwarded", "for=203.0.113.7")]
    [InlineData("X-Real-IP", "203.0.113.7")]
    public void IsAllowed_NoTokenConfigured_LoopbackPeerThatForwardsForAnotherClient_IsRefused(string header, string value)
    {
        var access = new ControlAccess(TestOptions.Monitor<ControlOptions>());
        var context = Request(IPAddress.Loopback, null);
        context.Request.Headers[header] = value;

        Assert.False(access.IsAllowed(context));
    }

    [Fact]
    public void IsAllowed_TokenConfigured_ForwardedRequestWithTheTokenIsAllowed()
    {
        var access = new ControlAccess(TestOptions.Monitor<ControlOptions>(static o => o.Token = Token));
        var context = Request(IPAddress.Parse("10.0.0.1"), "Bearer " + Token);
        context.Request.Headers["X-Forwarded-For"] = "203.0.113.7";

        Assert.True(access.IsAllowed(context));
    }

    private static DefaultHttpContext Request(IPAddress remote, string? authorization)
    {
        var context = new DefaultHttpContext();
        context.Connection.RemoteIpAddress = remote;
        if (authorization is not null)
        {
            context.Request.Headers.Authorization = authorization;
        }

        return context;
    }
}
