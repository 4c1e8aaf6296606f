using System.Diagnostics;
using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using LbProxy.Tests.Infrastructure;

namespace LbProxy.Tests.Functional;

/// <summary>
/// HTTPS at the edge with a test CA made here: each SNI name gets its certificate and the origin's exact bytes over
/// HTTP/2 (.NET, curl and h2load clients), certificates are on /metrics and /_lb/status, and a config naming a bad
/// certificate is refused by <c>validate</c> and at start, naming the file.
/// </summary>
public sealed class TlsTests : IAsyncLifetime, IDisposable
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    private readonly TlsSetup _setup = new();

    public Task InitializeAsync() => _setup.StartAsync();

    public Task DisposeAsync() => _setup.DisposeAsync();

    public void Dispose() => _setup.Dispose();

    [Fact]
    public async Task Sni_EachName_GetsItsCertificateAndExactBytesOverHttp2()
    {
        var a = await _setup.Layout.AddAsync("a.test");
        var b = await _setup.Layout.AddAsync("b.test");
        var fallback = await _setup.Layout.AddAsync("*");
        await using var proxy = await StartAsync("a.test", "b.test", "*");
        var expected = await OriginBytesAsync("/images/sample.jpg");

        Assert.Equal(a.Fingerprint, await TlsProbe.FingerprintAsync(_setup.Layout.HttpsPort, "a.test"));
        Assert.Equal(b.Fingerprint, await TlsProbe.FingerprintAsync(_setup.Layout.HttpsPort, "b.test"));
        Assert.Equal(fallback.Fingerprint, await TlsProbe.FingerprintAsync(_setup.Layout.HttpsPort, "unknown.test"));

        // 64 streams at once on one HTTP/2 connection, each with the origin's exact bytes.
        using var client = TlsProbe.Client(_setup.Certificates.Ca, _setup.Layout.HttpsPort, "b.test");
        var responses = await Task.WhenAll(Enumerable.Range(0, 64).Select(async _ =>
        {
            using var response = await client.GetAsync("/images/sample.jpg");
            return (response.StatusCode, response.Version, Body: await response.Content.ReadAsByteArrayAsync());
        }));
        Assert.All(responses, r =>
        {
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
            Assert.Equal(HttpVersion.Version20, r.Version);
            Assert.Equal(expected, r.Body);
        });

        // HTTP/1.1 over TLS still works, and plain HTTP is unchanged.
        using var http11 = TlsProbe.Client(_setup.Certificates.Ca, _setup.Layout.HttpsPort, "a.test", HttpVersion.Version11);
        Assert.Equal(expected, await http11.GetByteArrayAsync("/images/sample.jpg"));
        Assert.Equal(expected, await PlainClient(proxy).GetByteArrayAsync("/images/sample.jpg"));
    }

    [Fact]
    public async Task CurlH2loadNghttp_Http2_GetTheOriginsBytesUnderTheEdgeLimits()
    {
        await _setup.Layout.AddAsync("a.test");
        await _setup.Layout.AddAsync("*");
        await using var proxy = await StartAsync("a.test", "*");
        var ca = Path.Combine(_setup.Layout.Directory.FullName, "ca.pem");
        await File.WriteAllTextAsync(ca, _setup.Certificates.Ca.ExportCertificatePem());
        var body = Path.Combine(_setup.Layout.Directory.FullName, "body");

        var (curlExit, curlOut) = await RunAsync("curl", "-sS", "--http2", "--cacert", ca, "--resolve", $"a.test:{_setup.Layout.HttpsPort}:127.0.0.1",
            "-o", body, "-w", "%{http_version} %{response_code}", $"https://a.test:{_setup.Layout.HttpsPort}/images/large.webp");
        Assert.Equal(0, curlExit);
        Assert.Equal("2 200", curlOut.Trim());
        Assert.Equal(await OriginBytesAsync("/images/large.webp"), await File.ReadAllBytesAsync(body));

        // h2load: 2 connections, 20 streams each at once, 400 requests; it sends SNI 127.0.0.1, served by "*".
        var (h2Exit, h2Out) = await RunAsync("h2load", "-n", "400", "-c", "2", "-m", "20", $"https://127.0.0.1:{_setup.Layout.HttpsPort}/images/sample.jpg");
        Assert.True(h2Exit == 0, h2Out);
        Assert.Contains("400 succeeded, 0 failed, 0 errored", h2Out);
        Assert.Contains("status codes: 400 2xx", h2Out);
        Assert.Contains("Application protocol: h2", h2Out);

        // The edge's HTTP/2 limits, as a client reads them from the server's SETTINGS frame.
        var (nghttpExit, nghttpOut) = await RunAsync("nghttp", "-nv", $"https://127.0.0.1:{_setup.Layout.HttpsPort}/images/sample.jpg");
        Assert.True(nghttpExit == 0, nghttpOut);
        Assert.Contains("[SETTINGS_MAX_CONCURRENT_STREAMS(0x03):100]", nghttpOut);
        Assert.Contains("[SETTINGS_INITIAL_WINDOW_SIZE(0x04):786432]", nghttpOut);
    }

    [Fact]
    public async Task MetricsAndStatus_ListEachCertificate()
    {
        var a = await _setup.Layout.AddAsync("a.test");
        await _setup.Layout.AddAsync("*");
        await using var proxy = await StartAsync("a.test", "*");
        var plain = PlainClient(proxy);

        var scrape = await MetricsScrape.TakeAsync(plain);
        Assert.Equal("gauge", scrape.Types["lbproxy_tls_certificate_expiry_seconds"]);
        var expiry = Assert.Single(scrape.Where("lbproxy_tls_certificate_expiry_seconds", ("sni", "a.test"), ("endpoint", "Https")));
        Assert.InRange(expiry.Value, TimeSpan.FromDays(89).TotalSeconds, TimeSpan.FromDays(90).TotalSeconds);
        Assert.Single(scrape.Where("lbproxy_tls_certificate_expiry_seconds", ("sni", "*")));

        using var status = JsonDocument.Parse(await plain.GetStringAsync("/_lb/status"));
        var certificates = status.RootElement.GetProperty("certificates").EnumerateArray().ToList();
        Assert.Equal(2, certificates.Count);
        var entry = certificates.Single(c => c.GetProperty("sni").GetString() == "a.test");
        Assert.Equal("CN=a.test", entry.GetProperty("subject").GetString());
        Assert.Equal(["a.test", "127.0.0.1"], entry.GetProperty("names").EnumerateArray().Select(static n => n.GetString()));
        Assert.Equal(a.Fingerprint, entry.GetProperty("sha256Fingerprint").GetString());
        Assert.Equal(_setup.Layout.CertificatePath("a.test"), entry.GetProperty("path").GetString());
        Assert.True(entry.GetProperty("notAfter").GetDateTimeOffset() > DateTimeOffset.UtcNow.AddDays(89));
    }

    [Fact]
    public async Task ValidateAndStart_BadCertificates_ExitOneNamingEachFile()
    {
        var now = DateTimeOffset.UtcNow;
        await _setup.Layout.AddAsync("good.test");
        await _setup.Layout.AddAsync("mismatch.test");
        await File.WriteAllTextAsync(_setup.Layout.KeyPath("mismatch.test"), _setup.Certificates.Leaf(["mismatch.test"]).Key);
        await _setup.Layout.AddAsync("expired.test");
        await _setup.Certificates.Leaf(["expired.test"], now.AddDays(-30), now.AddDays(-1)).WriteAsync(_setup.Layout.CertificatePath("expired.test"), _setup.Layout.KeyPath("expired.test"));
        await _setup.Layout.AddAsync("early.test");
        await _setup.Certificates.Leaf(["early.test"], now.AddDays(2), now.AddDays(30)).WriteAsync(_setup.Layout.CertificatePath("early.test"), _setup.Layout.KeyPath("early.test"));
        await _setup.Layout.AddAsync("wrong-name.test");
        await _setup.Certificates.Leaf(["elsewhere.test"]).WriteAsync(_setup.Layout.CertificatePath("wrong-name.test"), _setup.Layout.KeyPath("wrong-name.test"));
        Directory.CreateDirectory(Path.GetDirectoryName(_setup.Layout.CertificatePath("missing.test"))!);
        var path = await WriteConfigAsync("good.test", "mismatch.test", "expired.test", "early.test", "wrong-name.test", "missing.test");

        var (exitCode, output) = await ProxyProcess.RunToExitAsync(_setup.Layout.Directory.FullName, Bound, "validate", path);

        Assert.Equal(1, exitCode);
        Assert.Contains($"private key '{_setup.Layout.KeyPath("mismatch.test")}' does not match certificate '{_setup.Layout.CertificatePath("mismatch.test")}'", output);
        Assert.Contains($"certificate '{_setup.Layout.CertificatePath("expired.test")}' expired at ", output);
        Assert.Contains($"certificate '{_setup.Layout.CertificatePath("early.test")}' is not valid before ", output);
        Assert.Contains($"certificate '{_setup.Layout.CertificatePath("wrong-name.test")}' does not cover SNI name 'wrong-name.test' (its names: elsewhere.test)", output);
        Assert.Contains($"certificate file '{_setup.Layout.CertificatePath("missing.test")}' is missing", output);
        Assert.Contains("Kestrel:Endpoints:Https:Sni:mismatch.test:Certificate", output);
        Assert.DoesNotContain(_setup.Layout.CertificatePath("good.test"), output);
        Assert.Contains("5 error(s)", output);

        // A start is refused with the same messages.
        var (startExit, startOutput) = await ProxyProcess.RunToExitAsync(_setup.Layout.Directory.FullName, Bound, "--config", path);
        Assert.Equal(1, startExit);
        Assert.Contains($"certificate '{_setup.Layout.CertificatePath("expired.test")}' expired at ", startOutput);
        Assert.Contains("5 error(s)", startOutput);
    }

    [RequiresMountFact]
    public async Task ValidateAndStart_ReadOnlyStagingDirectory_ExitOneNamingIt()
    {
        using var readOnly = SmallFileSystem.Mount(64);
        readOnly.MakeReadOnly();
        await _setup.Layout.AddAsync("good.test");
        var config = JsonNode.Parse(await File.ReadAllTextAsync(await WriteConfigAsync("good.test")))!.AsObject();
        config["LbProxy"] = new JsonObject { ["Tls"] = new JsonObject { ["StagingDirectory"] = readOnly.Path } };
        var path = Path.Combine(_setup.Layout.Directory.FullName, "yarp.json");
        await File.WriteAllTextAsync(path, config.ToJsonString());

        var (exitCode, output) = await ProxyProcess.RunToExitAsync(_setup.Layout.Directory.FullName, Bound, "validate", path);
        var (startExit, startOutput) = await ProxyProcess.RunToExitAsync(_setup.Layout.Directory.FullName, Bound, "--config", path);

        var expected = $"HTTPS needs a writable directory for the validated certificate copies Kestrel serves: '{readOnly.Path}' is not writable (";
        Assert.Equal(1, exitCode);
        Assert.Contains("LbProxy:Tls:StagingDirectory: " + expected, output, StringComparison.Ordinal);
        Assert.Contains("Read-only file system", output, StringComparison.Ordinal);
        Assert.Equal(1, startExit);
        Assert.Contains("LbProxy:Tls:StagingDirectory: " + expected, startOutput, StringComparison.Ordinal);
        Assert.DoesNotContain("Now listening", startOutput, StringComparison.Ordinal);
    }

    private async Task<string> WriteConfigAsync(params string[] names)
    {
        var config = JsonNode.Parse(TestConfig.CatchAll(_setup.Origins.All))!.AsObject();
        config["Kestrel"] = _setup.Layout.Kestrel(names);
        var path = Path.Combine(_setup.Layout.Directory.FullName, "yarp.json");
        await File.WriteAllTextAsync(path, config.ToJsonString());
        return path;
    }

    private async Task<TestProxy> StartAsync(params string[] names) => await TestProxy.StartWithFileAsync(await WriteConfigAsync(names));

    private async Task<byte[]> OriginBytesAsync(string path)
    {
        using var direct = new HttpClient { BaseAddress = _setup.Origins[0].Address };
        return await direct.GetByteArrayAsync(path);
    }

    private static HttpClient PlainClient(TestProxy proxy) => new()
    {
        BaseAddress = new Uri(proxy.App.Urls.First(static u => u.StartsWith("http://", StringComparison.Ordinal))),
    };

    private static async Task<(int ExitCode, string Output)> RunAsync(string program, params string[] args)
    {
        var info = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(Bound);
        await process.WaitForExitAsync(cts.Token);
        return (process.ExitCode, await stdout + await stderr);
    }
}
