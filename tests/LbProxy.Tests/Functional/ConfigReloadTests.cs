using System.Diagnostics;
using System.Text.Json.Nodes;
using LbProxy.Configuration;
using LbProxy.Tests.Infrastructure;

namespace LbProxy.Tests.Functional;

/// <summary>
/// Live reload under steady traffic, with real file operations: every edit is applied or refused whole, and
/// not one request fails.
/// </summary>
public sealed class ConfigReloadTests : IAsyncLifetime
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(20);

    private TestOrigins _origins = null!;
    private DirectoryInfo _directory = null!;
    private string _path = null!;

    public async Task InitializeAsync()
    {
        _origins = await TestOrigins.StartAsync(2);
        _directory = Directory.CreateTempSubdirectory("lbproxy-reload-");
        _path = Path.Combine(_directory.FullName, "yarp.json");
    }

    public async Task DisposeAsync()
    {
        await _origins.DisposeAsync();
        if (_directory.Exists)
        {
            _directory.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task InPlaceEdit_IsApplied()
    {
        await using var proxy = await StartAsync(Good(0, "v1"));
        await using var traffic = await TrafficLoop.StartAsync(proxy.Client);

        await File.WriteAllTextAsync(_path, Good(1, "v2"));
        var status = await WaitForAsync(proxy, s => s.Generation == 2);

        Assert.Equal("origin-1", await OriginOfAsync(proxy));
        Assert.Equal(ConfigState.HashOf(await File.ReadAllBytesAsync(_path)), status.Hash);
        await AssertNoFailedRequestAsync(traffic);
    }

    [Fact]
    public async Task AtomicRename_IsApplied()
    {
        await using var proxy = await StartAsync(Good(0, "v1"));
        await using var traffic = await TrafficLoop.StartAsync(proxy.Client);

        var temporary = Path.Combine(_directory.FullName, ".yarp.json.tmp");
        await File.WriteAllTextAsync(temporary, Good(1, "v2"));
        File.Move(temporary, _path, overwrite: true);
        await WaitForAsync(proxy, s => s.Generation == 2);

        Assert.Equal("origin-1", await OriginOfAsync(proxy));
        await AssertNoFailedRequestAsync(traffic);
    }

    [Fact]
    public async Task KubernetesSymlinkSwap_IsApplied()
    {
        // The layout kubelet makes for a mounted ConfigMap: yarp.json -> ..data/yarp.json, ..data -> ..<timestamp>.
        var first = Directory.CreateDirectory(Path.Combine(_directory.FullName, "..2026_11_27_v1"));
        await File.WriteAllTextAsync(Path.Combine(first.FullName, "yarp.json"), Good(0, "v1"));
        File.CreateSymbolicLink(Path.Combine(_directory.FullName, "..data"), first.Name);
        File.CreateSymbolicLink(_path, Path.Combine("..data", "yarp.json"));
        await using var proxy = await TestProxy.StartWithFileAsync(_path, TestProxy.FastReload);
        Assert.Equal("origin-0", await OriginOfAsync(proxy));
        await using var traffic = await TrafficLoop.StartAsync(proxy.Client);

        // kubelet's update: a new timestamped folder, a new link, and one atomic rename over ..data.
        var second = Directory.CreateDirectory(Path.Combine(_directory.FullName, "..2026_11_27_v2"));
        await File.WriteAllTextAsync(Path.Combine(second.FullName, "yarp.json"), Good(1, "v2"));
        File.CreateSymbolicLink(Path.Combine(_directory.FullName, "..data_tmp"), second.Name);
        await RunAsync("mv", "-T", Path.Combine(_directory.FullName, "..data_tmp"), Path.Combine(_directory.FullName, "..data"));
        first.Delete(recursive: true);
        await WaitForAsync(proxy, s => s.Generation == 2);

        Assert.Equal("origin-1", await OriginOfAsync(proxy));
        await AssertNoFailedRequestAsync(traffic);
    }

    [Fact]
    public async Task TruncateThenWriteInChunks_EndsApplied()
    {
        await using var proxy = await StartAsync(Good(0, "v1"));
        await using var traffic = await TrafficLoop.StartAsync(proxy.Client);

        var content = System.Text.Encoding.UTF8.GetBytes(Good(1, "v2"));
        await using (var stream = new FileStream(_path, FileMode.Truncate, FileAccess.Write, FileShare.ReadWrite))
        {
            var chunk = content.Length / 5 + 1;
            for (var offset = 0; offset < content.Length; offset += chunk)
            {
                await stream.WriteAsync(content.AsMemory(offset, Math.Min(chunk, content.Length - offset)));
                await stream.FlushAsync();
                await Task.Delay(120); // a slow writer: longer than the settle delay, so half-files are seen
            }
        }

        await WaitForAsync(proxy, s => s.Hash == ConfigState.HashOf(content));

        Assert.Equal("origin-1", await OriginOfAsync(proxy));
        await AssertNoFailedRequestAsync(traffic);
    }

    [Fact]
    public async Task DeleteThenRecreate_MissingFileIsRefusedThenNewFileApplied()
    {
        await using var proxy = await StartAsync(Good(0, "v1"));
        await using var traffic = await TrafficLoop.StartAsync(proxy.Client);

        File.Delete(_path);
        var refused = await WaitForAsync(proxy, s => s.ReloadsRejected == 1);
        Assert.Contains("missing", refused.LastError);
        Assert.Equal(1, refused.Generation);
        Assert.Equal("origin-0", await OriginOfAsync(proxy));

        await File.WriteAllTextAsync(_path, Good(1, "v2"));
        var applied = await WaitForAsync(proxy, s => s.Generation == 2);

        Assert.True(applied.LastReloadSucceeded);
        Assert.Equal("origin-1", await OriginOfAsync(proxy));
        await AssertNoFailedRequestAsync(traffic);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task BadEditThenTheServedContentRestored_IsSuccessAgain_StatusMetricAndSighup(bool watch)
    {
        // With Watch off only SIGHUP reads the file; its handler calls ReloadAsync(forced: true).
        await using var proxy = await StartAsync(Good(0, "v1"), "--LbProxy:Config:Watch", watch ? "true" : "false");
        var reloader = proxy.Services.GetRequiredService<ConfigReloader>();

        await File.WriteAllTextAsync(_path, Bad("invalid-json"));
        if (!watch)
        {
            await reloader.ReloadAsync(forced: true);
        }

        var refused = await WaitForAsync(proxy, s => s.ReloadsRejected == 1);
        Assert.False(refused.LastReloadSucceeded);
        Assert.Equal(0, (await MetricsScrape.TakeAsync(proxy.Client)).Single("lbproxy_config_last_reload_success"));

        // The exact content being served, back on disk.
        await File.WriteAllTextAsync(_path, Good(0, "v1"));
        if (!watch)
        {
            await reloader.ReloadAsync(forced: true);
        }

        var reverted = await WaitForAsync(proxy, s => s.LastReloadSucceeded);
        Assert.Equal(1, reverted.Generation);
        Assert.Equal(1, reverted.ReloadsRejected);
        Assert.Equal(0, reverted.ReloadsApplied);
        Assert.Equal(1, (await MetricsScrape.TakeAsync(proxy.Client)).Single("lbproxy_config_last_reload_success"));
        using var status = System.Text.Json.JsonDocument.Parse(await proxy.Client.GetStringAsync("/_lb/status"));
        Assert.True(status.RootElement.GetProperty("config").GetProperty("lastReloadSucceeded").GetBoolean());
        Assert.Equal("origin-0", await OriginOfAsync(proxy));
    }

    [Theory]
    [InlineData("fifo", "is a FIFO, not a regular file")]
    [InlineData("dev-zero", "is a character device, not a regular file")]
    public async Task SpecialFileAtThePath_IsRefusedAtOnceAndShown_LaterEditsAndSighupStillApply(string kind, string expectedError)
    {
        await using var proxy = await StartAsync(Good(0, "v1"));
        await using var traffic = await TrafficLoop.StartAsync(proxy.Client);

        File.Delete(_path);
        if (kind == "fifo")
        {
            await RunAsync("mkfifo", _path);
        }
        else
        {
            File.CreateSymbolicLink(_path, "/dev/zero");
        }

        var refused = await WaitForAsync(proxy, s => s.ReloadsRejected >= 1 && s.LastError!.Contains(expectedError, StringComparison.Ordinal));
        Assert.False(refused.LastReloadSucceeded);
        Assert.Equal(1, refused.Generation);
        // SIGHUP's reload, with the special file still there: answered, not blocked.
        var forced = await proxy.Services.GetRequiredService<ConfigReloader>().ReloadAsync(forced: true).WaitAsync(Bound);
        Assert.Contains(expectedError, forced.LastError);
        Assert.Equal("origin-0", await OriginOfAsync(proxy));

        File.Delete(_path);
        await File.WriteAllTextAsync(_path, Good(1, "v2"));
        var applied = await WaitForAsync(proxy, s => s.Generation == 2);
        Assert.True(applied.LastReloadSucceeded);
        Assert.Equal("origin-1", await OriginOfAsync(proxy));
        await AssertNoFailedRequestAsync(traffic);
    }

    [Theory]
    [InlineData("invalid-json", "invalid JSON")]
    [InlineData("empty", "the config file is empty")]
    [InlineData("unknown-cluster", "names unknown cluster 'nope'")]
    [InlineData("no-destinations", "has no destinations")]
    [InlineData("duplicate-route", "duplicate key 'images'")]
    [InlineData("bad-option", "ConnectTimeout")]
    [InlineData("bad-yarp-value", "not recognized as a valid TimeSpan")]
    [InlineData("no-routes", "the config has no routes")]
    [InlineData("route-timeout", "which LbProxy does not support")]
    public async Task BadEdit_IsRefusedWholeAndCounted_LastGoodKeepsServing(string kind, string expectedError)
    {
        await using var proxy = await StartAsync(Good(0, "v1"));
        await using var traffic = await TrafficLoop.StartAsync(proxy.Client);

        await File.WriteAllTextAsync(_path, Bad(kind));
        var refused = await WaitForAsync(proxy, s => s.ReloadsRejected == 1);

        Assert.Contains(expectedError, refused.LastError);
        Assert.Contains(_path, refused.LastError);
        Assert.Equal(1, refused.Generation);
        Assert.False(refused.LastReloadSucceeded);
        Assert.Equal("origin-0", await OriginOfAsync(proxy));

        // A refusal disarms nothing: the next good write applies.
        await File.WriteAllTextAsync(_path, Good(1, "v2"));
        var applied = await WaitForAsync(proxy, s => s.Generation == 2);
        Assert.True(applied.LastReloadSucceeded);
        Assert.Equal(1, applied.ReloadsRejected);
        Assert.Equal("origin-1", await OriginOfAsync(proxy));
        await AssertNoFailedRequestAsync(traffic);
    }

    [Fact]
    public async Task NoRoutes_WhenExplicitlyAllowed_IsApplied()
    {
        await using var proxy = await StartAsync(Good(0, "v1"));

        var empty = JsonNode.Parse(Bad("no-routes"))!;
        empty["LbProxy"] = new JsonObject { ["Config"] = new JsonObject { ["AllowNoRoutes"] = true } };
        await File.WriteAllTextAsync(_path, empty.ToJsonString());
        await WaitForAsync(proxy, s => s.Generation == 2);

        using var response = await proxy.Client.GetAsync("/images/a.jpg");
        Assert.Equal(System.Net.HttpStatusCode.NotFound, response.StatusCode);
    }

    [Fact]
    public async Task Storm_200WritesAlternatingGoodAndBad_EndsOnTheLastGoodFile()
    {
        await using var proxy = await StartAsync(Good(0, "v1"));
        await using var traffic = await TrafficLoop.StartAsync(proxy.Client);

        string last = "";
        for (var i = 0; i < 200; i++)
        {
            last = i % 2 == 0 ? Bad(i % 4 == 0 ? "invalid-json" : "unknown-cluster") : Good(i % 3 == 0 ? 0 : 1, $"storm-{i}");
            await File.WriteAllTextAsync(_path, last);
            await Task.Delay(i % 10 == 0 ? 100 : 3); // mostly faster than the settle delay, sometimes slower
        }

        var final = await WaitForAsync(proxy, s => s.Hash == ConfigState.HashOf(System.Text.Encoding.UTF8.GetBytes(last)));

        Assert.True(final.LastReloadSucceeded);
        Assert.True(final.Generation > 1);
        Assert.Equal("origin-1", await OriginOfAsync(proxy)); // the last write, i = 199, points at origin-1
        await AssertNoFailedRequestAsync(traffic);
    }

    [Fact]
    public async Task OptionsEdit_IsAppliedLive_AndRebuildsUpstreamClients_ButCommandLineStillWins()
    {
        await using var proxy = await StartAsync(Good(0, "v1"), "--LbProxy:Forwarding:PooledConnectionLifetime", "00:02:00");
        var forwarding = proxy.Services.GetRequiredService<Microsoft.Extensions.Options.IOptionsMonitor<LbProxy.Forwarding.ForwardingOptions>>();
        var clientBefore = HttpClientOf(proxy);

        var edited = JsonNode.Parse(Good(0, "v1"))!; // only the options change
        edited["LbProxy"] = new JsonObject
        {
            ["Forwarding"] = new JsonObject { ["ConnectTimeout"] = "00:00:07", ["PooledConnectionLifetime"] = "00:09:00" },
        };
        await File.WriteAllTextAsync(_path, edited.ToJsonString());
        await WaitForAsync(proxy, s => s.Generation == 2);

        Assert.Equal(TimeSpan.FromSeconds(7), forwarding.CurrentValue.ConnectTimeout);
        Assert.Equal(TimeSpan.FromMinutes(2), forwarding.CurrentValue.PooledConnectionLifetime); // the command line wins
        Assert.NotSame(clientBefore, HttpClientOf(proxy));
        Assert.Equal("origin-0", await OriginOfAsync(proxy));
    }

    [Fact]
    public async Task Sighup_RereadsTheFile_WhenWatchingIsOff()
    {
        var config = JsonNode.Parse(Good(0, "v1"))!;
        config["LbProxy"] = new JsonObject { ["Config"] = new JsonObject { ["Watch"] = false } };
        await File.WriteAllTextAsync(_path, config.ToJsonString());
        await using var proxy = ProxyProcess.Start(_directory.FullName, "--config", _path, "--urls", "http://127.0.0.1:0");
        using var client = new HttpClient { BaseAddress = await proxy.WaitUntilListeningAsync(Bound) };
        Assert.Equal("origin-0", await TestOrigins.OriginOfAsync(client, "/images/a.jpg"));

        config["ReverseProxy"] = JsonNode.Parse(Good(1, "v2"))!["ReverseProxy"]!.DeepClone();
        await File.WriteAllTextAsync(_path, config.ToJsonString());
        await RunAsync("kill", "-HUP", proxy.Id.ToString(System.Globalization.CultureInfo.InvariantCulture));

        await Poll.UntilAsync(
            () => TestOrigins.OriginOfAsync(client, "/images/a.jpg"),
            origin => origin == "origin-1",
            Bound,
            "SIGHUP applying the edit",
            origin => $"{origin} answered. Output:\n{proxy.Output}");

        Assert.Contains("SIGHUP", proxy.Output);
        Assert.False(proxy.HasExited);
    }

    private static HttpMessageInvoker HttpClientOf(TestProxy proxy)
    {
        var lookup = proxy.Services.GetRequiredService<Yarp.ReverseProxy.IProxyStateLookup>();
        Assert.True(lookup.TryGetCluster("images", out var cluster));
        return cluster.Model.HttpClient;
    }

    private string Good(int origin, string marker) => TestConfig.SingleOrigin(_origins[origin], marker);

    private string Bad(string kind)
    {
        var good = Good(0, "bad-" + kind);
        var node = JsonNode.Parse(good)!;
        switch (kind)
        {
            case "invalid-json":
                return good[..(good.Length / 2)];
            case "empty":
                return "";
            case "unknown-cluster":
                node["ReverseProxy"]!["Routes"]!["images"]!["ClusterId"] = "nope";
                break;
            case "no-destinations":
                node["ReverseProxy"]!["Clusters"]!["images"]!["Destinations"] = new JsonObject();
                break;
            case "duplicate-route":
                // {"images":{...}} becomes {"images":{...},"images":{...}}: JSON allows it, a config must not.
                var compact = node.ToJsonString();
                var routes = node["ReverseProxy"]!["Routes"]!.ToJsonString();
                return compact.Replace(routes, routes[..^1] + "," + routes[1..], StringComparison.Ordinal);
            case "bad-option":
                node["LbProxy"] = new JsonObject { ["Forwarding"] = new JsonObject { ["ConnectTimeout"] = "01:00:00" } };
                break;
            case "bad-yarp-value":
                node["ReverseProxy"]!["Clusters"]!["images"]!["HttpRequest"] = new JsonObject { ["ActivityTimeout"] = "soon" };
                break;
            case "route-timeout":
                node["ReverseProxy"]!["Routes"]!["images"]!["Timeout"] = "00:00:05";
                break;
            case "no-routes":
                node["ReverseProxy"]!["Routes"] = new JsonObject();
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(kind));
        }

        return node.ToJsonString();
    }

    private async Task<TestProxy> StartAsync(string config, params string[] extraArgs)
    {
        await File.WriteAllTextAsync(_path, config);
        var proxy = await TestProxy.StartWithFileAsync(_path, [.. TestProxy.FastReload, .. extraArgs]);
        Assert.Equal("origin-0", await OriginOfAsync(proxy));
        return proxy;
    }

    private static Task<string> OriginOfAsync(TestProxy proxy) => TestOrigins.OriginOfAsync(proxy.Client, "/images/which.jpg");

    /// <summary>Waits for the reloader to record a status that matches: a signal from ConfigState.Changed, no polling.</summary>
    private static async Task<ConfigStatus> WaitForAsync(TestProxy proxy, Func<ConfigStatus, bool> condition)
    {
        var state = proxy.Services.GetRequiredService<ConfigState>();
        var reached = new TaskCompletionSource<ConfigStatus>(TaskCreationOptions.RunContinuationsAsynchronously);
        void OnChanged(ConfigStatus status)
        {
            if (condition(status))
            {
                reached.TrySetResult(status);
            }
        }

        state.Changed += OnChanged;
        try
        {
            // Subscribed first, then checked: a change between the two is not missed.
            if (condition(state.Current))
            {
                return state.Current;
            }

            return await reached.Task.WaitAsync(Bound);
        }
        catch (TimeoutException e)
        {
            throw new TimeoutException($"no such config status within {Bound}; now: {state.Current}", e);
        }
        finally
        {
            state.Changed -= OnChanged;
        }
    }

    private static async Task AssertNoFailedRequestAsync(TrafficLoop traffic)
    {
        var ok = await traffic.StopAsync();
        Assert.Empty(traffic.Failures);
        Assert.True(ok > 0, "traffic ran during the edit");
    }

    private static async Task RunAsync(string program, params string[] args)
    {
        using var process = Process.Start(new ProcessStartInfo(program, args) { UseShellExecute = false })!;
        await process.WaitForExitAsync();
        Assert.Equal(0, process.ExitCode);
    }
}
