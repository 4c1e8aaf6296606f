using System.Net;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using LbProxy.Configuration;
using LbProxy.Tests.Infrastructure;

namespace LbProxy.Tests.Functional;

/// <summary>
/// The control token follows the config file: an edit that changes it revokes the old token and the live page's
/// cookie derived from it at once, with no restart.
/// </summary>
public sealed class ControlTokenRotationTests
{
    private const string OldToken = "old-token-0123456789";
    private const string NewToken = "new-token-9876543210";

    [Fact]
    public async Task TokenEdited_OldTokenAndItsCookieRefusedAtOnce_NewTokenAccepted()
    {
        await using var origins = await TestOrigins.StartAsync(1);
        await using var proxy = await TestProxy.StartAsync(Config(origins, OldToken), TestProxy.FastReload);
        using (var before = await GetAsync(proxy, "/_lb/status", OldToken))
        {
            Assert.Equal(HttpStatusCode.OK, before.StatusCode);
        }

        using var login = await proxy.Client.GetAsync($"/_lb/ui?token={OldToken}");
        Assert.Equal(HttpStatusCode.SeeOther, login.StatusCode);
        var oldCookie = login.Headers.GetValues("Set-Cookie").Single().Split(';')[0];
        using (var page = await GetAsync(proxy, "/_lb/ui", token: null, oldCookie))
        {
            Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        }

        var state = proxy.Services.GetRequiredService<ConfigState>();
        await File.WriteAllTextAsync(proxy.ConfigPath, Config(origins, NewToken));
        await Poll.UntilAsync(() => state.Current.Generation == 2, TimeSpan.FromSeconds(20), "the edit applied", () => state.Current.ToString());

        // Applied means the options are swapped already: no further wait.
        using var oldToken = await GetAsync(proxy, "/_lb/status", OldToken);
        using var newToken = await GetAsync(proxy, "/_lb/status", NewToken);
        using var oldPage = await GetAsync(proxy, "/_lb/ui", token: null, oldCookie);
        using var oldLogin = await proxy.Client.GetAsync($"/_lb/ui?token={OldToken}");
        using var newLogin = await proxy.Client.GetAsync($"/_lb/ui?token={NewToken}");
        var newCookie = newLogin.Headers.GetValues("Set-Cookie").Single().Split(';')[0];
        using var newPage = await GetAsync(proxy, "/_lb/ui", token: null, newCookie);

        Assert.Equal(HttpStatusCode.Unauthorized, oldToken.StatusCode);
        Assert.Equal(HttpStatusCode.OK, newToken.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, oldPage.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, oldLogin.StatusCode);
        Assert.Equal(HttpStatusCode.SeeOther, newLogin.StatusCode);
        Assert.NotEqual(oldCookie, newCookie);
        Assert.Equal(HttpStatusCode.OK, newPage.StatusCode);
        Assert.Equal(0, origins[0].RequestCount);
    }

    [Fact]
    public async Task TokenRemoved_LoopbackRuleAppliesAgain()
    {
        await using var origins = await TestOrigins.StartAsync(1);
        await using var proxy = await TestProxy.StartAsync(Config(origins, OldToken), TestProxy.FastReload);
        using (var before = await GetAsync(proxy, "/_lb/status", token: null))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, before.StatusCode);
        }

        var state = proxy.Services.GetRequiredService<ConfigState>();
        await File.WriteAllTextAsync(proxy.ConfigPath, Config(origins, token: null));
        await Poll.UntilAsync(() => state.Current.Generation == 2, TimeSpan.FromSeconds(20), "the edit applied", () => state.Current.ToString());

        using var loopback = await GetAsync(proxy, "/_lb/status", token: null);
        using var oldToken = await GetAsync(proxy, "/_lb/status", OldToken);
        Assert.Equal(HttpStatusCode.OK, loopback.StatusCode);
        // The loopback rule: the token is ignored, the address decides.
        Assert.Equal(HttpStatusCode.OK, oldToken.StatusCode);
    }

    private static string Config(TestOrigins origins, string? token) => new TestConfig()
        .Route("everything", "images", "/{**path}")
        .Cluster("images", origins.All)
        .LbProxy("Control", token is null ? new JsonObject() : new JsonObject { ["Token"] = token })
        .ToJson();

    private static Task<HttpResponseMessage> GetAsync(TestProxy proxy, string path, string? token, string? cookie = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        if (cookie is not null)
        {
            request.Headers.Add("Cookie", cookie);
        }

        return proxy.Client.SendAsync(request);
    }
}
