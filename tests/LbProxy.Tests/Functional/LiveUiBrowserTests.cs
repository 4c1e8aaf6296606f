using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using LbProxy.Diagnostics;
using LbProxy.Metrics;
using LbProxy.Tests.Infrastructure;
using Xunit.Abstractions;

namespace LbProxy.Tests.Functional;

/// <summary>
/// The live page in a real browser (Debian's headless Chromium) against a real proxy under light traffic, and the
/// story's leak switched on in that proxy: charts with moving data, the destinations, a killed origin's row turning
/// unhealthy, and the watchdog flagging the leak within 10,000 requests, on the page, the gauge and the status. The
/// leak moves process-wide timer counts, so this runs alone.
/// </summary>
[Collection(nameof(RunsAlone))]
public sealed class LiveUiBrowserTests(ITestOutputHelper output)
{
    private const string Token = "browser-test-token";
    private static readonly TimeSpan Pause = TimeSpan.FromMilliseconds(20);

    [Fact]
    public async Task LivePage_RealBrowserAndLeakingStage_ShowsChartsDestinationsUnhealthyOriginAndTheSuspectedLeak()
    {
        await using var origins = await TestOrigins.StartAsync(2);
        LeakyRequestLoggerMiddleware? leaky = null;
        var config = new TestConfig()
            .Route("images", "images", "/images/{**path}")
            .Cluster("images", origins.All, healthCheck: TestConfig.FastActiveHealth())
            .ToJson();
        await using var proxy = await TestProxy.StartAsync(config, app => app.Use(next =>
        {
            leaky = new LeakyRequestLoggerMiddleware(next);
            return leaky.InvokeAsync;
        }), "--LbProxy:Control:Token", Token);
        try
        {
            var watchdog = proxy.Services.GetRequiredService<LeakWatchdog>();
            var traffic = proxy.Services.GetRequiredService<LiveTraffic>();
            await using var paced = new PacedTraffic(proxy.Client, workers: 1, Pause, bound: TimeSpan.FromMinutes(4));

            using (var anonymous = await proxy.Client.GetAsync("/_lb/ui"))
            {
                Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
                Assert.Contains("token", await anonymous.Content.ReadAsStringAsync(), StringComparison.Ordinal);
            }

            // 1. Charts, destinations, the token exchanged for a cookie.
            var first = await BrowserCheck.RunAsync(proxy.Address, Token, TimeSpan.FromSeconds(60),
                "--wait-updates", "3", "--screenshot", Artifact("ui.png"));
            output.WriteLine(first.Text);
            Assert.Equal(0, first.ExitCode);
            Assert.Equal(401, first["withoutToken"].GetInt32());
            Assert.Equal(401, first["withoutTokenData"].GetInt32());
            Assert.Equal(200, first["withToken"].GetInt32());
            Assert.DoesNotContain("token", first["finalUrl"].GetString(), StringComparison.Ordinal);
            var cookie = Assert.Single(first["cookies"].EnumerateArray());
            Assert.True(cookie.GetProperty("httpOnly").GetBoolean());
            Assert.Equal("Strict", cookie.GetProperty("sameSite").GetString());
            Assert.Equal("/_lb/ui", cookie.GetProperty("path").GetString());
            Assert.Empty(first["cspViolations"].EnumerateArray());
            Assert.Empty(first["console"].EnumerateArray());
            Assert.InRange(first.Charts.Count(c => c.GetProperty("points").GetInt32() >= 2), 6, int.MaxValue);
            var moved = first["chartsMoved"].EnumerateArray().Select(e => e.GetString()).ToList();
            Assert.Contains("timers", moved);
            Assert.Contains("cpu", moved);
            Assert.Equal(
                ["images/origin-0", "images/origin-1"],
                first["destinations"].EnumerateArray().Select(d => $"{d.GetProperty("cluster").GetString()}/{d.GetProperty("destination").GetString()}").Order());
            Assert.All(first["destinations"].EnumerateArray(), d => Assert.True(d.GetProperty("healthy").GetBoolean()));

            // 2. A killed origin turns its row unhealthy.
            await origins[1].StopAsync();
            var second = await BrowserCheck.RunAsync(proxy.Address, Token, TimeSpan.FromSeconds(60),
                "--wait-updates", "1", "--wait-unhealthy", "images/origin-1");
            Assert.True(second.ExitCode == 0, second.Text);
            Assert.Contains(second["destinations"].EnumerateArray(), d => d.GetProperty("destination").GetString() == "origin-0" && d.GetProperty("healthy").GetBoolean());

            // 3. The story's leak, one timer per request, at about 180 requests a second once the warm-up is over.
            await Poll.UntilAsync(() => !watchdog.WarmingUp, TimeSpan.FromSeconds(60), "the watchdog's warm-up to end");
            Assert.False(watchdog.IsSuspect(WatchedResource.Timers));
            for (var i = 0; i < 3; i++)
            {
                paced.AddWorker();
            }

            var armedAt = traffic.Completed;
            leaky!.Arm();
            var onPage = BrowserCheck.RunAsync(proxy.Address, Token, TimeSpan.FromSeconds(150),
                "--wait-updates", "1", "--wait-suspect", "timers", "--screenshot", Artifact("ui-leak.png"));
            await Poll.UntilAsync(() => watchdog.IsSuspect(WatchedResource.Timers), TimeSpan.FromSeconds(150), "the watchdog to suspect timers",
                () => JsonSerializer.Serialize(watchdog.Status()));
            var requestsToFlag = traffic.Completed - armedAt;
            output.WriteLine($"flagged after {requestsToFlag} requests, {leaky.Created} leaked loggers");
            Assert.InRange(requestsToFlag, 1, 10_000);

            var scrape = await MetricsScrape.TakeAsync(proxy.Client);
            Assert.Equal(1, scrape.Single("lbproxy_watchdog_suspect", ("resource", "timers")));
            Assert.Equal(0, scrape.Single("lbproxy_watchdog_suspect", ("resource", "working_set")));
            using var statusRequest = new HttpRequestMessage(HttpMethod.Get, "/_lb/status");
            statusRequest.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Token);
            using var statusResponse = await proxy.Client.SendAsync(statusRequest);
            using var status = JsonDocument.Parse(await statusResponse.Content.ReadAsStringAsync());
            var timers = status.RootElement.GetProperty("watchdog").GetProperty("resources").EnumerateArray()
                .Single(r => r.GetProperty("resource").GetString() == "timers");
            Assert.Equal("suspect", timers.GetProperty("state").GetString());
            Assert.Equal(1, timers.GetProperty("episodes").GetInt32());
            Assert.True(timers.GetProperty("slopePer1000Requests").GetDouble() > 100);

            var third = await onPage;
            output.WriteLine(third.Text);
            Assert.True(third.ExitCode == 0, third.Text);
            Assert.Equal("suspect", third["watchdog"].GetProperty("state").GetString());
            Assert.True(third.Chart("timers").GetProperty("suspect").GetBoolean());
            Assert.False(third.Chart("cpu").GetProperty("suspect").GetBoolean());
            Assert.InRange(paced.Failed, 0, 10); // at most the requests in flight to the origin when it was killed
        }
        finally
        {
            leaky?.Dispose();
        }
    }

    private string Artifact(string name)
    {
        var path = Path.Combine(BrowserCheck.ArtifactsDirectory, name);
        output.WriteLine($"screenshot: {path}");
        return path;
    }
}
