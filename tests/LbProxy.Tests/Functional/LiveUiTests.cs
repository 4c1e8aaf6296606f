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

    [Fact]
    public async Task UiData_RequestsByStatus_CountsThe404sOfPathsNoRouteMatches()
    {
        const int unmatched = 24;
        await using var origins = await TestOrigins.StartAsync(1);
        await using var proxy = await TestProxy.StartAsync(
            new TestConfig().Route("images", "images", "/images/{**path}").Cluster("images", origins.All).ToJson(),
            "--LbProxy:Control:Token", Token,
            "--LbProxy:Watchdog:SampleInterval", "00:00:01");
        using var start = await UiDataAsync(proxy, since: 0);

        for (var i = 0; i < unmatched; i++)
        {
            using var response = await proxy.Client.GetAsync($"/no-route/{i}.jpg");
            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        }

        // Every request above is in a sample once two more have been taken.
        var seq = start.RootElement.GetProperty("seq").GetInt64();
        await Poll.UntilAsync(
            async () =>
            {
                using var data = await UiDataAsync(proxy, seq);
                return data.RootElement.GetProperty("seq").GetInt64();
            },
            newest => newest >= seq + 2,
            TimeSpan.FromSeconds(30),
            "two samples after the traffic");
        using var after = await UiDataAsync(proxy, since: 0);

        // The chart's 4xx line, as requests: each sample's rate times the time since the one before.
        var samples = after.RootElement.GetProperty("samples");
        var t = samples.GetProperty("t").EnumerateArray().Select(static v => v.GetDouble()).ToArray();
        var rps4xx = samples.GetProperty("columns").GetProperty("rps4xx").EnumerateArray().Select(static v => v.GetDouble()).ToArray();
        var rps2xx = samples.GetProperty("columns").GetProperty("rps2xx").EnumerateArray().Select(static v => v.GetDouble()).ToArray();
        var interval = after.RootElement.GetProperty("intervalSeconds").GetDouble();
        var requests = Enumerable.Range(0, t.Length).Sum(i => rps4xx[i] * (i == 0 ? interval : (t[i] - t[i - 1]) / 1000));
        Assert.InRange(requests, unmatched - 1, unmatched + 1);
        Assert.All(rps2xx, static v => Assert.Equal(0, v));
        Assert.Equal(0, origins[0].RequestCount);
    }

    private static async Task<JsonDocument> UiDataAsync(TestProxy proxy, long since)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/_lb/ui/data?since={since}");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Token);
        using var response = await proxy.Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync());
    }

    private static Task<HttpResponseMessage> SendAsync(TestProxy proxy, string path, string cookie)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Add("Cookie", cookie);
        return proxy.Client.SendAsync(request);
    }
}
