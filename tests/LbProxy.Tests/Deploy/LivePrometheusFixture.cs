using System.Diagnostics;
using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using LbProxy.Tests.Infrastructure;

namespace LbProxy.Tests.Deploy;

/// <summary>
/// One real LbProxy (the built program, deploy/config/yarp.json pointed at two loopback origins, plus an HTTPS
/// endpoint with a certificate made here, so that the TLS series the rules name exist) and one real
/// Prometheus (Debian's, with the shipped prometheus.yml: its target rewritten to that proxy, its intervals to 1 s,
/// the rules/ folder beside it), with traffic sent through the proxy until every rule has been evaluated.
/// Shared by the tests of <see cref="LivePrometheusTests"/>; everything started here is stopped by its own handle.
/// </summary>
public sealed class LivePrometheusFixture : IAsyncLifetime, IDisposable
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);
    private readonly DirectoryInfo _temp = Directory.CreateTempSubdirectory("lbproxy-live-prometheus-");
    private readonly TestCertificates _certificates = new();
    private TlsLayout? _tls;
    private TestOrigins? _origins;
    private ProxyProcess? _proxy;
    private Process? _prometheus;

    public HttpClient Proxy { get; private set; } = null!;

    public HttpClient Prometheus { get; private set; } = null!;

    /// <summary>The proxy's <c>instance</c> label: host:port as Prometheus scrapes it.</summary>
    public string Instance { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        _origins = await TestOrigins.StartAsync(2);
        var config = Path.Combine(_temp.FullName, "yarp.json");
        var json = JsonNode.Parse(File.ReadAllText(DeployFiles.ComposeConfig)
            .Replace("http://origin-a:8080/", _origins[0].Address.ToString(), StringComparison.Ordinal)
            .Replace("http://origin-b:8080/", _origins[1].Address.ToString(), StringComparison.Ordinal))!.AsObject();
        _tls = new TlsLayout(_certificates);
        await _tls.AddAsync("images.test");
        json["Kestrel"] = _tls.Kestrel("images.test");
        // Origin protection at its tightest, so that the traffic below queues (the queue-wait histogram has series)
        // and the degraded-format counters exist: the compose file's limits are sized for the demo, not for a test.
        var metadata = json["ReverseProxy"]!["Clusters"]!["images"]!["Metadata"]!.AsObject();
        metadata["Concurrency.MaxPerDestination"] = "1";
        metadata["Concurrency.DegradeFormats"] = "true";
        // A cached route beside it, so that the hot set's request series exist (they do for cached routes only).
        json["ReverseProxy"]!["Routes"]!.AsObject()["cached"] = new JsonObject
        {
            ["ClusterId"] = "images",
            ["Match"] = new JsonObject { ["Path"] = "/cached/{**path}" },
            ["Metadata"] = new JsonObject { ["Cache.Enabled"] = "true" },
        };
        File.WriteAllText(config, json.ToJsonString());
        _proxy = await ProxyProcess.StartListeningAsync(_temp.FullName, null, Bound, ["--config", config]);
        Proxy = new HttpClient { BaseAddress = _proxy.Address };
        Instance = $"127.0.0.1:{_proxy.Address.Port}";

        var prometheusDir = Path.Combine(_temp.FullName, "prometheus");
        Directory.CreateDirectory(Path.Combine(prometheusDir, "rules"));
        foreach (var rules in DeployFiles.RuleFiles)
        {
            File.Copy(rules, Path.Combine(prometheusDir, "rules", Path.GetFileName(rules)));
        }

        var yml = File.ReadAllText(DeployFiles.PrometheusYml);
        foreach (var (from, to) in new[]
        {
            ("'lbproxy:9464'", $"'{Instance}'"),
            ("scrape_interval: 15s", "scrape_interval: 1s"),
            ("evaluation_interval: 15s", "evaluation_interval: 1s"),
            ("scrape_timeout: 10s", "scrape_timeout: 1s"), // must not exceed the interval
        })
        {
            Assert.True(yml.Contains(from, StringComparison.Ordinal), $"prometheus.yml no longer has {from}: update this fixture");
            yml = yml.Replace(from, to, StringComparison.Ordinal);
        }

        File.WriteAllText(Path.Combine(prometheusDir, "prometheus.yml"), yml);
        var port = LoopbackPorts.Unused();
        var info = new ProcessStartInfo("prometheus")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[]
        {
            $"--config.file={Path.Combine(prometheusDir, "prometheus.yml")}",
            $"--storage.tsdb.path={Path.Combine(_temp.FullName, "tsdb")}",
            $"--web.listen-address=127.0.0.1:{port}",
        })
        {
            info.ArgumentList.Add(arg);
        }

        _prometheus = Process.Start(info)!;
        _prometheus.OutputDataReceived += static (_, _) => { };
        _prometheus.ErrorDataReceived += static (_, _) => { };
        _prometheus.BeginOutputReadLine();
        _prometheus.BeginErrorReadLine();
        Prometheus = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/") };
        await Poll.UntilAsync(
            async () =>
            {
                try
                {
                    return (await Prometheus.GetAsync("-/ready")).StatusCode == HttpStatusCode.OK;
                }
                catch (HttpRequestException)
                {
                    return false;
                }
            },
            Bound,
            "Prometheus is ready");

        // First a burst that queues: 6 requests at once for 2 destinations of 1 slot each, every origin answer 100 ms
        // late; the traffic after it lasts the scrapes a rate of the queue wait needs. "original" (Accept */*) has no
        // cheaper class, so none is degraded instead of queued.
        foreach (var origin in _origins.All)
        {
            origin.Behavior.DelayMs = 100;
        }

        for (var burst = 0; burst < 3; burst++)
        {
            await Task.WhenAll(Enumerable.Range(0, 6).Select(i => SendAsync($"/images/burst-{burst}-{i}.jpg", "*/*")));
        }

        foreach (var origin in _origins.All)
        {
            origin.Behavior.Reset();
        }

        // Traffic for a few scrapes: images in every format class, an origin 404, an unrouted 404, and now and then a
        // request Kestrel refuses (far below what LbProxyRequestsRefused fires on).
        for (var round = 0; round < 40; round++)
        {
            if (round % 10 == 0)
            {
                Assert.Equal(400, (await RawHttp.SendAsync(_proxy.Address, "GARBAGE\r\n\r\n")).StatusCode);
            }

            await SendAsync("/images/cat.jpg");
            await SendAsync("/images/dog.jpg", "image/avif,image/webp,*/*");
            await SendAsync($"/images/large-{round}.jpg", "image/webp,*/*");
            await SendAsync("/images/missing.txt");
            await SendAsync($"/nope/{round}");
            await SendAsync($"/cached/c{round % 4}.jpg"); // a miss, then hits
            await Task.Delay(TimeSpan.FromMilliseconds(100));
        }


        // A rate needs two scrapes after the traffic; on a loaded machine a scrape can miss its 1 s timeout.
        foreach (var counter in new[] { "lbproxy_proxy_requests_total", "lbproxy_config_reloads_total", "dotnet_process_cpu_time_seconds_total" })
        {
            await Poll.UntilAsync(
                async () => (await QueryAsync($"rate({counter}{{instance=\"{Instance}\"}}[1m])")).Series > 0,
                Bound,
                $"Prometheus has a rate of {counter}");
        }

        // A rule's health is "unknown" until its first evaluation.
        await Poll.UntilAsync(
            async () => (await RulesAsync()).All(static r => r.GetProperty("health").GetString() != "unknown"),
            Bound,
            "every rule evaluated once");
    }

    /// <summary>Every rule Prometheus loaded (from <c>/api/v1/rules</c>).</summary>
    public async Task<IReadOnlyList<JsonElement>> RulesAsync()
    {
        using var document = JsonDocument.Parse(await Prometheus.GetStringAsync("api/v1/rules"));
        return [.. document.RootElement.GetProperty("data").GetProperty("groups").EnumerateArray()
            .SelectMany(static g => g.GetProperty("rules").EnumerateArray()).Select(static r => r.Clone())];
    }

    /// <summary>An instant query: (status, number of series, error) — a query that does not parse is a 400 with an error.</summary>
    public async Task<(string Status, int Series, string? Error)> QueryAsync(string query)
    {
        using var response = await Prometheus.GetAsync("api/v1/query?query=" + Uri.EscapeDataString(query));
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var root = document.RootElement;
        var status = root.GetProperty("status").GetString()!;
        return status == "success"
            ? (status, root.GetProperty("data").GetProperty("result").GetArrayLength(), null)
            : (status, 0, root.GetProperty("error").GetString());
    }

    /// <summary>Values of a label among the series a selector matches (a dashboard's <c>label_values()</c> variable).</summary>
    public async Task<IReadOnlyList<string>> LabelValuesAsync(string label, string selector)
    {
        using var document = JsonDocument.Parse(await Prometheus.GetStringAsync($"api/v1/label/{label}/values?match[]=" + Uri.EscapeDataString(selector)));
        return [.. document.RootElement.GetProperty("data").EnumerateArray().Select(static v => v.GetString()!)];
    }

    public async Task DisposeAsync()
    {
        Proxy?.Dispose();
        Prometheus?.Dispose();
        if (_prometheus is { HasExited: false })
        {
            _prometheus.Kill();
            await _prometheus.WaitForExitAsync();
        }

        _prometheus?.Dispose();
        if (_proxy is not null)
        {
            await _proxy.DisposeAsync();
        }

        if (_origins is not null)
        {
            await _origins.DisposeAsync();
        }

        try
        {
            _temp.Delete(recursive: true);
        }
        catch (IOException)
        {
            // Prometheus may hold a file of its storage for a moment after exiting; the temp folder is the OS's to clean.
        }
    }

    /// <summary>The certificate files, after everything that used them has stopped.</summary>
    public void Dispose()
    {
        _tls?.Dispose();
        _certificates.Dispose();
    }

    private async Task SendAsync(string path, string? accept = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (accept is not null)
        {
            request.Headers.TryAddWithoutValidation("Accept", accept);
        }

        using var response = await Proxy.SendAsync(request);
    }
}
