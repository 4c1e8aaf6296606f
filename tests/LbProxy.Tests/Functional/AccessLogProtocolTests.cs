using System.Net;
using System.Text.Json.Nodes;
using LbProxy.Tests.Infrastructure;

namespace LbProxy.Tests.Functional;

/// <summary>
/// The access log's <c>{protocol}</c> and <c>{tls}</c> over real TLS on loopback (a test CA made here): HTTP/2 and
/// HTTP/1.1 over TLS 1.3, and plain HTTP with a dash for TLS.
/// </summary>
public sealed class AccessLogProtocolTests : IAsyncLifetime, IDisposable
{
    private readonly TlsSetup _setup = new();

    public Task InitializeAsync() => _setup.StartAsync();

    public Task DisposeAsync() => _setup.DisposeAsync();

    public void Dispose() => _setup.Dispose();

    [Fact]
    public async Task ProtocolAndTls_EachRequestShowsWhatItCameOver()
    {
        await _setup.Layout.AddAsync("a.test");
        await _setup.Layout.AddAsync("*");
        var config = JsonNode.Parse(TestConfig.CatchAll(_setup.Origins.All))!.AsObject();
        config["Kestrel"] = _setup.Layout.Kestrel("a.test", "*");
        var lbproxy = config["LbProxy"] as JsonObject ?? [];
        config["LbProxy"] = lbproxy;
        lbproxy["AccessLog"] = new JsonObject { ["Template"] = "{protocol} {tls} {url}" };
        var path = Path.Combine(_setup.Layout.Directory.FullName, "yarp.json");
        await File.WriteAllTextAsync(path, config.ToJsonString());
        await using var proxy = await TestProxy.StartWithFileAsync(path);

        using (var h2 = TlsProbe.Client(_setup.Certificates.Ca, _setup.Layout.HttpsPort, "a.test"))
        using (var response = await h2.GetAsync("/images/sample.jpg?via=h2"))
        {
            Assert.Equal(HttpVersion.Version20, response.Version);
        }

        using (var h1 = TlsProbe.Client(_setup.Certificates.Ca, _setup.Layout.HttpsPort, "a.test", HttpVersion.Version11))
        {
            await h1.GetByteArrayAsync("/images/sample.jpg?via=h1");
        }

        using (var plain = new HttpClient { BaseAddress = new Uri(proxy.App.Urls.First(static u => u.StartsWith("http://", StringComparison.Ordinal))) })
        {
            await plain.GetByteArrayAsync("/images/sample.jpg?via=plain");
        }

        var lines = await proxy.AccessLog.WaitForAsync(3);
        Assert.Contains("HTTP/2 TLSv1.3 /images/sample.jpg?via=h2", lines);
        Assert.Contains("HTTP/1.1 TLSv1.3 /images/sample.jpg?via=h1", lines);
        Assert.Contains("HTTP/1.1 - /images/sample.jpg?via=plain", lines);
    }
}
