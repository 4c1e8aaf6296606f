using System.Text.Json.Nodes;
using LbProxy.Tests.Infrastructure;

namespace LbProxy.Tests.Functional;

/// <summary>
/// Certificates rotated on disk under continuous HTTPS traffic (a new handshake for every request), in every way a
/// file is replaced: a good pair reaches new handshakes, a bad one is refused and counted while the last good one
/// keeps serving, and not one request fails.
/// </summary>
public sealed class TlsRotationTests : IAsyncLifetime, IDisposable
{
    private const string Name = "images.test";
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(20);

    private readonly TlsSetup _setup = new();

    public Task InitializeAsync() => _setup.StartAsync();

    public Task DisposeAsync() => _setup.DisposeAsync();

    public void Dispose() => _setup.Dispose();

    [Theory]
    [InlineData(Replacement.InPlace, false)]
    [InlineData(Replacement.CertificateBeforeKey, false)]
    [InlineData(Replacement.AtomicRename, false)]
    [InlineData(Replacement.KubernetesSwap, true)]
    public async Task Rotate_GoodPair_ReachesNewHandshakesWithNoFailedRequest(Replacement how, bool kubernetes)
    {
        var first = await _setup.Layout.AddAsync(Name, kubernetes);
        await using var proxy = await StartAsync();
        await using var traffic = await TrafficAsync();
        Assert.Equal(first.Fingerprint, await TlsProbe.FingerprintAsync(_setup.Layout.HttpsPort, Name));

        var second = _setup.Certificates.Leaf([Name]);
        await _setup.Layout.ReplaceAsync(Name, second, how);

        await Poll.UntilAsync(() => TlsProbe.FingerprintAsync(_setup.Layout.HttpsPort, Name), f => f == second.Fingerprint, Bound, "the new certificate served");
        var scrape = await MetricsScrape.TakeAsync(HttpClientOf(proxy));
        Assert.Equal(1, scrape.Sum("lbproxy_tls_rotations_total", ("result", "applied")));
        Assert.Equal(0, scrape.Sum("lbproxy_tls_rotations_total", ("result", "refused")));
        await AssertNoFailedRequestAsync(traffic);
    }

    public static TheoryData<string> BadPairs => ["truncated", "expired", "not-yet-valid", "other-key", "other-name"];

    [Theory]
    [MemberData(nameof(BadPairs))]
    public async Task Rotate_BadPair_IsRefusedOnceAndTheLastGoodOneKeepsServing(string bad)
    {
        var first = await _setup.Layout.AddAsync(Name);
        var other = await _setup.Layout.AddAsync("other.test");
        await using var proxy = await StartAsync("other.test");
        var http = HttpClientOf(proxy);
        await using var traffic = await TrafficAsync();

        var now = DateTimeOffset.UtcNow;
        var good = _setup.Certificates.Leaf([Name]);
        var (pem, how) = bad switch
        {
            "truncated" => (good, Replacement.Truncated),
            "expired" => (_setup.Certificates.Leaf([Name], now.AddDays(-90), now.AddDays(-1)), Replacement.InPlace),
            "not-yet-valid" => (_setup.Certificates.Leaf([Name], now.AddDays(1), now.AddDays(90)), Replacement.InPlace),
            "other-key" => (good with { Key = _setup.Certificates.Leaf([Name]).Key }, Replacement.InPlace),
            _ => (_setup.Certificates.Leaf(["elsewhere.test"]), Replacement.InPlace),
        };
        await _setup.Layout.ReplaceAsync(Name, pem, how);
        await Poll.UntilAsync(() => RotationsAsync(http, "refused"), n => n == 1, Bound, "the bad pair refused");

        // Another certificate rotated after it: the watcher has read the bad pair again meanwhile, and refused it only once.
        var otherSecond = _setup.Certificates.Leaf(["other.test"]);
        await _setup.Layout.ReplaceAsync("other.test", otherSecond, Replacement.InPlace);
        await Poll.UntilAsync(() => TlsProbe.FingerprintAsync(_setup.Layout.HttpsPort, "other.test"), f => f == otherSecond.Fingerprint, Bound, "the other certificate rotated");
        Assert.NotEqual(other.Fingerprint, otherSecond.Fingerprint);
        Assert.Equal(1, await RotationsAsync(http, "refused"));
        Assert.Equal(first.Fingerprint, await TlsProbe.FingerprintAsync(_setup.Layout.HttpsPort, Name));

        // The next good write is applied.
        await _setup.Layout.ReplaceAsync(Name, good, Replacement.InPlace);
        await Poll.UntilAsync(() => TlsProbe.FingerprintAsync(_setup.Layout.HttpsPort, Name), f => f == good.Fingerprint, Bound, "the good certificate served");
        Assert.Equal(2, await RotationsAsync(http, "applied"));
        await AssertNoFailedRequestAsync(traffic);
    }

    [Fact]
    public async Task Rotate_CertificateValidInAMoment_IsRefusedThenServedOnceValidWithoutAnotherWrite()
    {
        var first = await _setup.Layout.AddAsync(Name);
        await using var proxy = await StartAsync();
        var http = HttpClientOf(proxy);

        // As from an issuer whose clock runs a little ahead.
        var early = _setup.Certificates.Leaf([Name], DateTimeOffset.UtcNow.AddSeconds(3), DateTimeOffset.UtcNow.AddDays(90));
        await _setup.Layout.ReplaceAsync(Name, early, Replacement.InPlace);
        await Poll.UntilAsync(() => RotationsAsync(http, "refused"), n => n == 1, Bound, "the early certificate refused");
        Assert.Equal(first.Fingerprint, await TlsProbe.FingerprintAsync(_setup.Layout.HttpsPort, Name));

        await Poll.UntilAsync(() => TlsProbe.FingerprintAsync(_setup.Layout.HttpsPort, Name), f => f == early.Fingerprint, Bound, "the certificate served once valid");
        Assert.Equal(1, await RotationsAsync(http, "refused"));
        Assert.Equal(1, await RotationsAsync(http, "applied"));
    }

    private async Task<TestProxy> StartAsync(params string[] moreNames)
    {
        var config = JsonNode.Parse(TestConfig.CatchAll(_setup.Origins.All))!.AsObject();
        config["Kestrel"] = _setup.Layout.Kestrel([Name, .. moreNames]);
        var path = Path.Combine(_setup.Layout.Directory.FullName, "yarp.json");
        await File.WriteAllTextAsync(path, config.ToJsonString());
        return await TestProxy.StartWithFileAsync(path, [.. TestProxy.FastReload, "--LbProxy:Tls:PollInterval", "00:00:00.100"]);
    }

    /// <summary>HTTP/1.1 over TLS, a new connection (and handshake) for every request, validated against the test CA.</summary>
    private Task<TrafficLoop> TrafficAsync() =>
        TrafficLoop.StartAsync(TlsProbe.Client(_setup.Certificates.Ca, _setup.Layout.HttpsPort, Name, System.Net.HttpVersion.Version11, pooled: false), "/images/steady.jpg");

    private static HttpClient HttpClientOf(TestProxy proxy) => new()
    {
        BaseAddress = new Uri(proxy.App.Urls.First(static u => u.StartsWith("http://", StringComparison.Ordinal))),
    };

    private static async Task<double> RotationsAsync(HttpClient http, string result) =>
        (await MetricsScrape.TakeAsync(http)).Sum("lbproxy_tls_rotations_total", ("result", result));

    private static async Task AssertNoFailedRequestAsync(TrafficLoop traffic)
    {
        var ok = await traffic.StopAsync();
        Assert.Empty(traffic.Failures);
        Assert.True(ok > 0, "traffic ran during the rotation");
    }
}
