using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using LbProxy.SampleOrigin;
using LbProxy.Tests.Infrastructure;

namespace LbProxy.Tests.Functional;

public sealed class ControlPlaneTests
{
    private const string Token = "test-token-0123456789";

    /// <summary>Spellings sent byte for byte on the wire (HttpClient would clean most of them up).</summary>
    public static TheoryData<string> ControlSpellings =>
    [
        "/_lb/status",
        "/_LB/status",
        "/_lb/STATUS",
        "//_lb//status",
        "/_lb/./status",
        "/_lb/status/",
        "/%5Flb/status",
        "/%5flb/%73tatus",
        "/x/../_lb/status",
        "/%2F_lb/status",
        "/%2e/_lb/status",
        "/x/%2E%2E/_lb/status",
        "/_lb%2Fstatus",
        "/%255Flb/status",
        "/_lb;x=1/status",
        "/_lb/no-such-endpoint",
        "/_lb",
        "/_lb/",
        "/_LB/../_lb/whatever",
        "/_lb./status",
        "/_lb%2e/status",
        "/_lb%2E/status",
        "/_lb%20/status",
        "/_lb%09/status",
        "/_lb..%20/status",
    ];

    [Theory]
    [MemberData(nameof(ControlSpellings))]
    public async Task Get_AnySpellingOfAControlPath_IsAnsweredByTheProxyNeverForwarded(string target)
    {
        await using var origins = await TestOrigins.StartAsync(1);
        await using var proxy = await StartCatchAllAsync(origins);

        var response = await RawHttp.GetAsync(proxy.Address, target);

        Assert.False(response.HasHeader(SampleOriginServer.OriginIdHeader), $"{target} reached the origin");
        Assert.Contains(response.StatusCode, new[] { 200, 401, 404 });
        Assert.Equal(0, origins[0].RequestCount);
    }

    [Theory]
    [InlineData("/_lbx.jpg")]
    [InlineData("/images/_lb/x.jpg")]
    [InlineData("/_lb.jpg")]
    public async Task Get_LookAlikePath_IsForwarded(string target)
    {
        await using var origins = await TestOrigins.StartAsync(1);
        await using var proxy = await StartCatchAllAsync(origins);

        var response = await RawHttp.GetAsync(proxy.Address, target);

        Assert.Equal(200, response.StatusCode);
        Assert.True(response.HasHeader(SampleOriginServer.OriginIdHeader));
        Assert.Equal(1, origins[0].RequestCount);
    }

    [Fact]
    public async Task Status_TokenChecks_401WithoutDetailUnlessTheRightToken()
    {
        await using var origins = await TestOrigins.StartAsync(1);
        await using var proxy = await StartCatchAllAsync(origins, "--LbProxy:Control:Token", Token);

        using var none = await proxy.Client.GetAsync("/_lb/status");
        using var wrong = await SendAsync(proxy, HttpMethod.Get, "/_lb/status", "wrong-token");
        using var right = await SendAsync(proxy, HttpMethod.Get, "/_lb/status", Token);

        Assert.Equal(HttpStatusCode.Unauthorized, none.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        Assert.Equal("", await none.Content.ReadAsStringAsync());
        Assert.Equal("", await wrong.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.OK, right.StatusCode);
        Assert.Equal("application/json", right.Content.Headers.ContentType?.MediaType);
        Assert.Equal(0, origins[0].RequestCount);
    }

    [Fact]
    public async Task Status_RightToken_ShowsConfigClustersAndAccessLogCounts()
    {
        await using var origins = await TestOrigins.StartAsync(2);
        await using var proxy = await StartCatchAllAsync(origins, "--LbProxy:Control:Token", Token);
        for (var i = 0; i < 3; i++)
        {
            using var image = await proxy.Client.GetAsync($"/images/{i}.jpg");
        }

        using var healthz = await proxy.Client.GetAsync("/_lb/healthz");
        await proxy.AccessLog.WaitForAsync(3);

        using var response = await SendAsync(proxy, HttpMethod.Get, "/_lb/status", Token);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var root = json.RootElement;

        Assert.False(string.IsNullOrEmpty(root.GetProperty("version").GetString()));
        Assert.True(root.GetProperty("uptimeSeconds").GetDouble() >= 0);
        Assert.True(root.GetProperty("ready").GetBoolean());
        var config = root.GetProperty("config");
        Assert.Equal(1, config.GetProperty("generation").GetInt64());
        Assert.Equal(16, config.GetProperty("hash").GetString()!.Length);
        Assert.True(config.GetProperty("lastReloadSucceeded").GetBoolean());
        var cluster = root.GetProperty("clusters")[0];
        Assert.Equal("images", cluster.GetProperty("id").GetString());
        var destinations = cluster.GetProperty("destinations").EnumerateArray().Select(d => d.GetProperty("id").GetString()).ToList();
        Assert.Equal(["origin-0", "origin-1"], destinations);
        Assert.Equal(origins[0].Address.ToString(), cluster.GetProperty("destinations")[0].GetProperty("address").GetString());
        Assert.Equal(0, cluster.GetProperty("destinations")[0].GetProperty("inFlight").GetInt32());
        var accessLog = root.GetProperty("accessLog");
        Assert.Equal(3, accessLog.GetProperty("written").GetInt64());
        // The healthz call, and this status call itself is counted only once it ends.
        Assert.Equal(1, accessLog.GetProperty("skipped").GetProperty("path").GetInt64());
    }

    [Fact]
    public async Task TokenEndpoints_NoTokenConfigured_AnswerLoopbackClients()
    {
        await using var origins = await TestOrigins.StartAsync(1);
        await using var proxy = await StartCatchAllAsync(origins);

        using var status = await proxy.Client.GetAsync("/_lb/status");
        using var runtime = await proxy.Client.GetAsync("/_lb/runtime");
        using var level = await proxy.Client.GetAsync("/_lb/loglevel");

        Assert.Equal(HttpStatusCode.OK, status.StatusCode);
        Assert.Equal(HttpStatusCode.OK, runtime.StatusCode);
        Assert.Equal(HttpStatusCode.OK, level.StatusCode);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task TokenEndpoints_NoTokenConfigured_ThroughASameHostFrontProxy_AreRefused(bool frontIsTrusted)
    {
        // The back proxy's control prefix is /_ctl, so that the front one (a real LbProxy, whose own prefix is /_lb)
        // forwards it like any path, from 127.0.0.1 and with X-Forwarded-For, as nginx on the same host does.
        await using var origins = await TestOrigins.StartAsync(1);
        string[] trust = frontIsTrusted ? ["--LbProxy:Headers:TrustedProxies:0", "127.0.0.1"] : [];
        await using var back = await TestProxy.StartAsync(TestConfig.CatchAll(origins.All), ["--LbProxy:Control:Prefix", "/_ctl", .. trust]);
        await using var front = await TestProxy.StartAsync(new TestConfig()
            .Route("everything", "back", "/{**path}")
            .Cluster("back", [("back", back.Address)])
            .ToJson());

        using var direct = await back.Client.GetAsync("/_ctl/status");
        using var status = await front.Client.GetAsync("/_ctl/status");
        using var runtime = await front.Client.GetAsync("/_ctl/runtime");
        using var level = await front.Client.PutAsync("/_ctl/loglevel?level=Verbose", content: null);
        using var page = await front.Client.GetAsync("/_ctl/ui?token=x");
        using var healthz = await front.Client.GetAsync("/_ctl/healthz");

        Assert.Equal(HttpStatusCode.OK, direct.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, status.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, runtime.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, level.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, page.StatusCode);
        Assert.Equal(HttpStatusCode.OK, healthz.StatusCode);
        Assert.Equal(Serilog.Events.LogEventLevel.Warning, back.Services.GetRequiredService<Serilog.Core.LoggingLevelSwitch>().MinimumLevel);
        Assert.Equal(0, origins[0].RequestCount);
    }

    [Fact]
    public async Task Runtime_IsASnapshotOfTimersThreadsGcMemoryAndCpu()
    {
        await using var origins = await TestOrigins.StartAsync(1);
        await using var proxy = await StartCatchAllAsync(origins, "--LbProxy:Control:Token", Token);

        using var response = await SendAsync(proxy, HttpMethod.Get, "/_lb/runtime", Token);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var root = json.RootElement;

        Assert.True(root.GetProperty("activeTimers").GetInt64() > 0);
        Assert.True(root.GetProperty("threadPool").GetProperty("threads").GetInt32() > 0);
        Assert.True(root.GetProperty("threadPool").GetProperty("completedWorkItems").GetInt64() > 0);
        Assert.True(root.GetProperty("threadPool").TryGetProperty("pendingWorkItems", out _));
        Assert.True(root.GetProperty("gc").GetProperty("heapSizeBytes").GetInt64() > 0);
        Assert.True(root.GetProperty("gc").TryGetProperty("gen2Collections", out _));
        Assert.True(root.GetProperty("process").GetProperty("workingSetBytes").GetInt64() > 0);
        Assert.True(root.GetProperty("process").GetProperty("cpuTimeSeconds").GetDouble() > 0);
        Assert.True(root.GetProperty("uptimeSeconds").GetDouble() >= 0);
    }

    [Theory]
    [InlineData("level=Loud")]
    [InlineData("level=42")]
    [InlineData("")]
    [InlineData("level=Debug&ttl=0")]
    [InlineData("level=Debug&ttl=abc")]
    [InlineData("level=Debug&ttl=-5")]
    public async Task PutLogLevel_BadLevelOrTtl_Is400AndChangesNothing(string query)
    {
        await using var origins = await TestOrigins.StartAsync(1);
        await using var proxy = await StartCatchAllAsync(origins, "--LbProxy:Control:Token", Token);

        using var response = await SendAsync(proxy, HttpMethod.Put, "/_lb/loglevel?" + query, Token);
        using var state = await SendAsync(proxy, HttpMethod.Get, "/_lb/loglevel", Token);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("\"level\": \"Warning\"", await state.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task PutLogLevel_WithTtl_SwitchesAndReverts()
    {
        await using var origins = await TestOrigins.StartAsync(1);
        await using var proxy = await StartCatchAllAsync(origins, "--LbProxy:Control:Token", Token);
        var levelSwitch = proxy.Services.GetRequiredService<Serilog.Core.LoggingLevelSwitch>();

        using var response = await SendAsync(proxy, HttpMethod.Put, "/_lb/loglevel?level=Debug&ttl=1", Token);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("Debug", json.RootElement.GetProperty("level").GetString());
        Assert.Equal("Warning", json.RootElement.GetProperty("configured").GetString());
        Assert.Equal(Serilog.Events.LogEventLevel.Debug, levelSwitch.MinimumLevel);
        await Poll.UntilAsync(
            () => levelSwitch.MinimumLevel == Serilog.Events.LogEventLevel.Warning,
            TimeSpan.FromSeconds(15),
            "the level reverting to Warning when its ttl expires",
            () => $"the level is {levelSwitch.MinimumLevel}");
    }

    [Theory]
    [InlineData("POST", "/_lb/status")]
    [InlineData("DELETE", "/_lb/loglevel")]
    [InlineData("PUT", "/_lb/healthz")]
    public async Task WrongMethod_Is405WithAllow(string method, string path)
    {
        await using var origins = await TestOrigins.StartAsync(1);
        await using var proxy = await StartCatchAllAsync(origins);

        using var response = await proxy.Client.SendAsync(new HttpRequestMessage(new HttpMethod(method), path));

        Assert.Equal(HttpStatusCode.MethodNotAllowed, response.StatusCode);
        Assert.NotEmpty(response.Content.Headers.Allow);
        Assert.Equal(0, origins[0].RequestCount);
    }

    [Fact]
    public async Task Readyz_Stopping_Is503()
    {
        await using var origins = await TestOrigins.StartAsync(1);
        await using var proxy = await StartCatchAllAsync(origins);
        using var before = await proxy.Client.GetAsync("/_lb/readyz");

        proxy.Services.GetRequiredService<Microsoft.Extensions.Hosting.IHostApplicationLifetime>().StopApplication();
        using var after = await proxy.Client.GetAsync("/_lb/readyz");

        Assert.Equal(HttpStatusCode.OK, before.StatusCode);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, after.StatusCode);
        Assert.Equal("draining", await after.Content.ReadAsStringAsync());
    }

    private static Task<TestProxy> StartCatchAllAsync(TestOrigins origins, params string[] args) =>
        TestProxy.StartAsync(TestConfig.CatchAll(origins.All), args);

    private static Task<HttpResponseMessage> SendAsync(TestProxy proxy, HttpMethod method, string path, string token)
    {
        var request = new HttpRequestMessage(method, path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return proxy.Client.SendAsync(request);
    }
}
