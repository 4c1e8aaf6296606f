using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using LbProxy.Configuration;
using LbProxy.Tests.Infrastructure;

namespace LbProxy.Tests.Functional;

/// <summary>
/// The plain-HTTP listener that redirects to HTTPS and the HSTS header, through real sockets and real TLS with a test
/// CA: what a browser sees on each port, what the origin never sees, and what <c>validate</c> and a reload say of bad values.
/// </summary>
public sealed class TlsRedirectAndHstsTests : IAsyncLifetime, IDisposable
{
    private const string Host = "a.test";
    private const string Image = "/images/sample.jpg";
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    private readonly TlsSetup _setup = new();

    // An origin with an HSTS policy of its own, which the edge's replaces on HTTPS.
    private readonly RawOrigin _ownHsts = RawOrigin.Start(
        "HTTP/1.1 200 OK\r\nStrict-Transport-Security: max-age=5\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");

    public async Task InitializeAsync()
    {
        await _setup.StartAsync();
        await _setup.Layout.AddAsync(Host);
    }

    public async Task DisposeAsync()
    {
        await _setup.DisposeAsync();
        await _ownHsts.DisposeAsync();
    }

    public void Dispose() => _setup.Dispose();

    [Fact]
    public async Task RedirectingEndpoint_Answers301Or308ToHttps_KeepsTarget_NeverForwards()
    {
        await using var proxy = await StartAsync(new JsonObject
        {
            ["RedirectHttp"] = new JsonObject { ["Endpoints"] = new JsonArray("Http"), ["HttpsPort"] = _setup.Layout.HttpsPort },
        });
        var plain = PlainAddress(proxy);
        var originBefore = _setup.Origins[0].RequestCount;

        // GET and HEAD: 301, the host without the plain port, the configured HTTPS port, the target byte for byte.
        const string target = "/images/sample.jpg?w=100&q=%2F%20x";
        var get = await RawHttp.SendAsync(plain, $"GET {target} HTTP/1.1\r\nHost: {Host}:{plain.Port}\r\nConnection: close\r\n\r\n");
        Assert.Equal(301, get.StatusCode);
        Assert.Equal($"https://{Host}:{_setup.Layout.HttpsPort}{target}", get.Header("Location"));
        Assert.Equal("0", get.Header("Content-Length"));
        Assert.Null(get.Header("Strict-Transport-Security"));
        var head = await RawHttp.SendAsync(plain, $"HEAD /x HTTP/1.1\r\nHost: {Host}\r\nConnection: close\r\n\r\n");
        Assert.Equal(301, head.StatusCode);

        // Other methods: 308, so that a client keeps the method and the body.
        var post = await RawHttp.SendAsync(plain, $"POST /upload?id=7 HTTP/1.1\r\nHost: {Host}\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello");
        Assert.Equal(308, post.StatusCode);
        Assert.Equal($"https://{Host}:{_setup.Layout.HttpsPort}/upload?id=7", post.Header("Location"));

        // HTTP/1.0 without a Host: nothing to redirect to.
        var noHost = await RawHttp.SendAsync(plain, "GET / HTTP/1.0\r\n\r\n");
        Assert.Equal(400, noHost.StatusCode);

        // None of it reached the origin; the control plane and /metrics still answer on the plain port (probes, scrapers).
        using var plainClient = new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false }) { BaseAddress = plain };
        Assert.Equal("ok", await plainClient.GetStringAsync("/_lb/healthz"));
        using (var metrics = await plainClient.GetAsync("/metrics"))
        {
            Assert.Equal(HttpStatusCode.OK, metrics.StatusCode);
        }

        Assert.Equal(originBefore, _setup.Origins[0].RequestCount);

        // The redirect leads where it says: the origin's exact bytes over HTTPS and HTTP/2.
        using var https = TlsProbe.Client(_setup.Certificates.Ca, _setup.Layout.HttpsPort, Host);
        using var followed = await https.GetAsync(new Uri(get.Header("Location")!));
        Assert.Equal(HttpStatusCode.OK, followed.StatusCode);
        Assert.Equal(await OriginBytesAsync(), await followed.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task RedirectToPort443_LeavesThePortOut_AndOtherPlainEndpointsStillServe()
    {
        await using var proxy = await StartAsync(new JsonObject
        {
            ["RedirectHttp"] = new JsonObject { ["Endpoints"] = new JsonArray("Http") },
        }, kestrel => kestrel["Endpoints"]!["Internal"] = new JsonObject { ["Url"] = "http://127.0.0.1:0" });
        var addresses = proxy.App.Urls.Where(static u => u.StartsWith("http://", StringComparison.Ordinal)).Select(static u => new Uri(u)).ToList();
        Assert.Equal(2, addresses.Count);

        var answers = new List<RawResponse>();
        foreach (var address in addresses)
        {
            answers.Add(await RawHttp.SendAsync(address, $"GET {Image} HTTP/1.1\r\nHost: [::1]:{address.Port}\r\nConnection: close\r\n\r\n"));
        }

        // One endpoint redirects (an IPv6 host keeps its brackets), the other, not named, serves the image as before.
        var redirect = Assert.Single(answers, static a => a.StatusCode == 301);
        Assert.Equal($"https://[::1]{Image}", redirect.Header("Location"));
        var served = Assert.Single(answers, static a => a.StatusCode == 200);
        Assert.Equal(await OriginBytesAsync(), Encoding.Latin1.GetBytes(served.Body));
    }

    [Fact]
    public async Task Hsts_OnEveryHttpsResponseOnly_BadEditRefusedLastGoodKept_GoodEditApplied()
    {
        var tls = new JsonObject
        {
            ["Hsts"] = new JsonObject { ["MaxAge"] = "365.00:00:00", ["IncludeSubDomains"] = true },
        };
        await using var proxy = await StartAsync(tls, extraArgs: TestProxy.FastReload);
        using var https = TlsProbe.Client(_setup.Certificates.Ca, _setup.Layout.HttpsPort, Host);
        using var https11 = TlsProbe.Client(_setup.Certificates.Ca, _setup.Layout.HttpsPort, Host, HttpVersion.Version11);
        using var plain = new HttpClient { BaseAddress = PlainAddress(proxy) };

        const string year = "max-age=31536000; includeSubDomains";
        Assert.Equal(year, await HstsAsync(https, Image));
        Assert.Equal(year, await HstsAsync(https11, Image));
        Assert.Equal(year, await HstsAsync(https, "/_lb/healthz"));
        Assert.Equal(year, await HstsAsync(https, "/images/missing.jpg"));   // the origin's 404 too
        Assert.Equal(year, await HstsAsync(https, "/own-hsts"));             // an origin's own value replaced, not doubled
        Assert.Null(await HstsAsync(plain, Image));
        Assert.Null(await HstsAsync(plain, "/_lb/healthz"));

        // Preload without IncludeSubDomains: refused whole, naming the key; the last good value keeps being sent.
        var state = proxy.Services.GetRequiredService<ConfigState>();
        tls["Hsts"] = new JsonObject { ["MaxAge"] = "730.00:00:00", ["Preload"] = true };
        await WriteConfigAsync(proxy.ConfigPath, tls);
        await Poll.UntilAsync(() => state.Current.ReloadsRejected == 1, Bound, "the bad edit refused", () => state.Current.ToString());
        Assert.Contains("LbProxy:Tls:Hsts", state.Current.LastError);
        Assert.Contains("IncludeSubDomains", state.Current.LastError);
        Assert.Equal(year, await HstsAsync(https, Image));

        // A good edit is applied to the next response.
        tls["Hsts"] = new JsonObject { ["MaxAge"] = "730.00:00:00", ["IncludeSubDomains"] = true, ["Preload"] = true };
        await WriteConfigAsync(proxy.ConfigPath, tls);
        await Poll.UntilAsync(async () => await HstsAsync(https, Image) == "max-age=63072000; includeSubDomains; preload", Bound, "the new HSTS value");
        Assert.Null(await HstsAsync(plain, Image));
    }

    [Fact]
    public async Task Validate_BadRedirectAndHsts_ExitOneNamingEachKey()
    {
        var config = Config(new JsonObject
        {
            ["RedirectHttp"] = new JsonObject { ["Endpoints"] = new JsonArray("Nope", "Https"), ["HttpsPort"] = 70000 },
            ["Hsts"] = new JsonObject { ["MaxAge"] = "1000.00:00:00", ["Preload"] = true },
        });
        var path = Path.Combine(_setup.Layout.Directory.FullName, "bad.json");
        await File.WriteAllTextAsync(path, config.ToJsonString());

        var (exitCode, output) = await ProxyProcess.RunToExitAsync(_setup.Layout.Directory.FullName, Bound, "validate", path);

        Assert.True(exitCode == 1, output);
        Assert.Contains("LbProxy:Tls:RedirectHttp:Endpoints: endpoint 'Nope' is not among Kestrel:Endpoints (Http, Https)", output);
        Assert.Contains("LbProxy:Tls:RedirectHttp:Endpoints: endpoint 'Https' is not plain HTTP", output);
        Assert.Contains("LbProxy:Tls:RedirectHttp:HttpsPort: 70000 is not a port", output);
        Assert.Contains("LbProxy:Tls:Hsts:MaxAge: 1000.00:00:00 is outside 0 – 730 days", output);
        Assert.Contains("LbProxy:Tls:Hsts:Preload: the preload list takes a host only with IncludeSubDomains", output);
        Assert.Contains("5 error(s)", output);
    }

    private async Task<TestProxy> StartAsync(JsonObject tls, Action<JsonObject>? kestrel = null, params string[] extraArgs)
    {
        var path = Path.Combine(Directory.CreateTempSubdirectory("lbproxy-redirect-").FullName, "yarp.json");
        await WriteConfigAsync(path, tls, kestrel);
        return await TestProxy.StartWithFileAsync(path, extraArgs);
    }

    private async Task WriteConfigAsync(string path, JsonObject tls, Action<JsonObject>? kestrel = null)
    {
        var config = Config(tls);
        kestrel?.Invoke(config["Kestrel"]!.AsObject());
        await File.WriteAllTextAsync(path + ".tmp", config.ToJsonString());
        File.Move(path + ".tmp", path, overwrite: true);
    }

    private JsonObject Config(JsonObject tls)
    {
        var config = JsonNode.Parse(new TestConfig()
            .Route("everything", "images", "/{**path}")
            .Cluster("images", _setup.Origins.All)
            .Route("own-hsts", "own-hsts", "/own-hsts")
            .Cluster("own-hsts", [("raw", _ownHsts.Address)])
            .ToJson())!.AsObject();
        config["Kestrel"] = _setup.Layout.Kestrel(Host);
        config["LbProxy"] ??= new JsonObject();
        config["LbProxy"]!["Tls"] = tls.DeepClone();
        return config;
    }

    private static Uri PlainAddress(TestProxy proxy) =>
        new(proxy.App.Urls.First(static u => u.StartsWith("http://", StringComparison.Ordinal)));

    private static async Task<string?> HstsAsync(HttpClient client, string path)
    {
        using var response = await client.GetAsync(path);
        return response.Headers.TryGetValues("Strict-Transport-Security", out var values) ? string.Join(",", values) : null;
    }

    private async Task<byte[]> OriginBytesAsync()
    {
        using var direct = new HttpClient { BaseAddress = _setup.Origins[0].Address };
        return await direct.GetByteArrayAsync(Image);
    }
}
