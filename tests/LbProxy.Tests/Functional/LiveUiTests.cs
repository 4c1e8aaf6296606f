using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using LbProxy.Tests.Infrastructure;

namespace LbProxy.Tests.Functional;

/// <summary>
/// The live page's access and headers, the watchdog in <c>/_lb/runtime</c> and <c>/_lb/status</c>, and its gauge on
/// <c>/metrics</c>, over HTTP against a real proxy.
/// </summary>
public sealed class LiveUiTests
{
    private const string Token = "ui-token";

    [Fact]
    public async Task Ui_WithoutToken_Is401WithAShortBodyAndStrictHeaders()
    {
        await using var origins = await TestOrigins.StartAsync(1);
        await using var proxy = await TestProxy.StartAsync(TestConfig.CatchAll(origins.All), "--LbProxy:Control:Token", Token);

        foreach (var path in (string[])["/_lb/ui", "/_lb/ui/data", "/_lb/ui/app.js", "/_lb/UI/", "/_lb/ui?token=wrong"])
        {
            using var response = await proxy.Client.GetAsync(path);
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            Assert.StartsWith("401: open /_lb/ui?token=", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
            Assert.False(response.Headers.Contains("Set-Cookie"));
            Assert.Contains("default-src 'self'", response.Headers.GetValues("Content-Security-Policy").Single(), StringComparison.Ordinal);
        }

        Assert.Equal(0, origins[0].RequestCount);
    }

    [Fact]
    public async Task Ui_TokenOnce_RedirectsWithoutItAndTheCookieOpensOnlyThePage()
    {
        await using var origins = await TestOrigins.StartAsync(1);
        await using var proxy = await TestProxy.StartAsync(TestConfig.CatchAll(origins.All),
            "--LbProxy:Control:Token", Token, "--LbProxy:AccessLog:SkipControlPaths", "false");

        using var login = await proxy.Client.GetAsync($"/_lb/ui?token={Token}");
        Assert.Equal(HttpStatusCode.SeeOther, login.StatusCode);
        Assert.Equal("/_lb/ui", login.Headers.Location?.OriginalString);
        var setCookie = login.Headers.GetValues("Set-Cookie").Single();
        Assert.Contains("path=/_lb/ui", setCookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("httponly", setCookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("samesite=strict", setCookie, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain(Token, setCookie, StringComparison.Ordinal);
        var cookie = setCookie.Split(';')[0];

        using var page = await SendAsync(proxy, "/_lb/ui", cookie);
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        var html = await page.Content.ReadAsStringAsync();
        Assert.Contains("src=\"/_lb/ui/app.js\"", html, StringComparison.Ordinal);
        Assert.DoesNotContain("<script>", html, StringComparison.Ordinal);
        using var data = await SendAsync(proxy, "/_lb/ui/data?since=0", cookie);
        Assert.Equal(HttpStatusCode.OK, data.StatusCode);
        using var json = JsonDocument.Parse(await data.Content.ReadAsStringAsync());
        Assert.Equal(7, json.RootElement.GetProperty("status").GetProperty("watchdog").GetProperty("resources").GetArrayLength());
        // The cookie is the page's only: it opens no other control endpoint.
        using var status = await SendAsync(proxy, "/_lb/status", cookie);
        Assert.Equal(HttpStatusCode.Unauthorized, status.StatusCode);

        // The token never reaches the access log, even with control paths logged.
        var lines = await proxy.AccessLog.WaitForAsync(4);
        Assert.Contains(lines, l => l.Contains("/_lb/ui?token=redacted", StringComparison.Ordinal));
        Assert.DoesNotContain(lines, l => l.Contains(Token, StringComparison.Ordinal));
        Assert.Equal(0, origins[0].RequestCount);
    }

    [Fact]
    public async Task RuntimeStatusAndMetrics_ShowTheWatchdogForEveryResource()
    {
        await using var origins = await TestOrigins.StartAsync(1);
        await using var proxy = await TestProxy.StartAsync(TestConfig.CatchAll(origins.All), "--LbProxy:Control:Token", Token);
        string[] resources = ["timers", "threadpool_threads", "threadpool_queue", "connections", "working_set", "cpu_per_request", "alloc_per_request"];

        foreach (var path in (string[])["/_lb/runtime", "/_lb/status"])
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, path);
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Token);
            using var response = await proxy.Client.SendAsync(request);
            using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            var watchdog = json.RootElement.GetProperty("watchdog");
            Assert.True(watchdog.GetProperty("warmingUp").GetBoolean());
            Assert.Equal(resources, watchdog.GetProperty("resources").EnumerateArray().Select(r => r.GetProperty("resource").GetString()));
            Assert.All(watchdog.GetProperty("resources").EnumerateArray(), r => Assert.Equal("ok", r.GetProperty("state").GetString()));
            if (path == "/_lb/runtime")
            {
                Assert.True(json.RootElement.GetProperty("activeTimers").GetInt64() > 0);
                Assert.True(json.RootElement.GetProperty("threadPool").GetProperty("threads").GetInt32() > 0);
            }
        }

        var scrape = await MetricsScrape.TakeAsync(proxy.Client);
        Assert.Equal(resources.Order(), scrape.Where("lbproxy_watchdog_suspect").Select(s => s.Labels["resource"]).Order());
        Assert.All(scrape.Where("lbproxy_watchdog_suspect"), s => Assert.Equal(0, s.Value));
    }

    private static Task<HttpResponseMessage> SendAsync(TestProxy proxy, string path, string cookie)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Add("Cookie", cookie);
        return proxy.Client.SendAsync(request);
    }
}
