using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.Json.Nodes;
using LbProxy.Tests.Infrastructure;

namespace LbProxy.Tests.Functional;

/// <summary>
/// LbProxy's native build (<c>dotnet publish -p:PublishAot=true</c>), the one docs/performance.md offers for
/// memory, run as an operator would: it has no reflection binder and no runtime code generation, so what those do in
/// the JIT build (options bound from the config file, followed on reload, validated; JSON; metrics) is checked here.
/// tests/run publishes it once and names it in LBPROXY_NATIVE; without that variable the first test publishes it.
/// </summary>
public sealed class NativeBuildTests : IDisposable
{
    private const string Token = "native-test-token";
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);
    private readonly DirectoryInfo _directory = Directory.CreateTempSubdirectory("lbproxy-native-");

    [Fact]
    public async Task Native_ServesWithTheConfigFilesOptions_FollowsAReload_AndAnswersStatusAndMetrics()
    {
        var program = await NativeBuild.PathAsync();
        await using var origins = await TestOrigins.StartAsync(2);
        var config = Path.Combine(_directory.FullName, "yarp.json");
        File.WriteAllText(config, Config(origins.All, "native-1 {method} {url} {status}"));
        await using var proxy = await StartAsync(program, config);
        using var client = new HttpClient { BaseAddress = proxy.Address };

        // A template of the config file's own: options are bound (an unbound build would write the default line).
        using (var response = await client.GetAsync("/images/first.jpg"))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("image/jpeg", response.Content.Headers.ContentType?.MediaType);
        }

        Assert.True(await proxy.WaitForLineAsync(l => l == "native-1 GET /images/first.jpg 200", Bound) >= 0, proxy.Output);

        // The file edited on disk: the new template applies to the next request (options follow the reload).
        File.WriteAllText(config, Config(origins.All, "native-2 {method} {url} {status}"));
        Assert.True(await proxy.WaitForLineAsync(l => l.Contains("Config generation 2 applied", StringComparison.Ordinal), Bound) >= 0, proxy.Output);
        using (var response = await client.GetAsync("/images/second.jpg"))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        Assert.True(await proxy.WaitForLineAsync(l => l == "native-2 GET /images/second.jpg 200", Bound) >= 0, proxy.Output);
        Assert.Equal(2, origins[0].RequestCount + origins[1].RequestCount);

        // The status document (System.Text.Json from generated code): the applied generation and the lines written.
        using var status = new HttpRequestMessage(HttpMethod.Get, "/_lb/status");
        status.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Token);
        using var statusResponse = await client.SendAsync(status);
        Assert.Equal(HttpStatusCode.OK, statusResponse.StatusCode);
        using var json = JsonDocument.Parse(await statusResponse.Content.ReadAsStringAsync());
        Assert.Equal(2, json.RootElement.GetProperty("config").GetProperty("generation").GetInt64());
        Assert.Equal(2, json.RootElement.GetProperty("accessLog").GetProperty("written").GetInt64());

        // Metrics: the proxy's own series and the runtime's, for the two requests.
        var metrics = await MetricsScrape.TakeAsync(client);
        Assert.Equal(2, metrics.Sum("lbproxy_proxy_requests_total"));
        Assert.NotEmpty(metrics.Where("dotnet_timer_count"));

        // SIGTERM with no grace (an option given on the command line): a clean stop.
        proxy.Signal(ProxyProcess.SigTerm);
        Assert.Equal(0, await proxy.WaitForExitAsync(Bound));
    }

    [Fact]
    public async Task Native_Validate_RefusesAnOutOfRangeOption_NamingItsKey()
    {
        var program = await NativeBuild.PathAsync();
        var config = Path.Combine(_directory.FullName, "bad.json");
        var document = JsonNode.Parse(Config([], "{status}"))!.AsObject();
        document["LbProxy"]!["Forwarding"] = new JsonObject { ["ConnectTimeout"] = "00:05:00" };
        File.WriteAllText(config, document.ToJsonString());

        await using var run = ProxyProcess.StartCommand(_directory.FullName, null, program, "validate", config);
        Assert.Equal(1, await run.WaitForExitAsync(Bound));
        Assert.Contains("LbProxy:Forwarding:ConnectTimeout", run.Output, StringComparison.Ordinal);
        Assert.Contains("must be between 00:00:00.1000000 and 00:01:00", run.Output, StringComparison.Ordinal);
    }

    public void Dispose() => _directory.Delete(recursive: true);

    private static string Config(IReadOnlyList<LbProxy.SampleOrigin.SampleOriginServer> origins, string template) => new TestConfig()
        .Route("images", "images", "/images/{**path}")
        .Cluster("images", origins)
        .LbProxy("AccessLog", new JsonObject { ["Template"] = template })
        .LbProxy("Demo", new JsonObject { ["Enabled"] = false })
        .ToJson();

    private static Task<ProxyProcess> StartAsync(string program, string config) =>
        ProxyProcess.StartCommandListeningAsync(
            Path.GetDirectoryName(config)!,
            new Dictionary<string, string> { ["LBPROXY_CONTROL_TOKEN"] = Token },
            Bound,
            program,
            ["--config", config, "--urls", "http://127.0.0.1:0", "--LbProxy:Control:ShutdownGrace", "00:00:00"]);

    /// <summary>The native executable: LBPROXY_NATIVE, or published once into a temporary folder.</summary>
    private static class NativeBuild
    {
        private static readonly Lazy<Task<string>> Published = new(PublishAsync);

        public static Task<string> PathAsync() =>
            Environment.GetEnvironmentVariable("LBPROXY_NATIVE") is { Length: > 0 } given ? Task.FromResult(given) : Published.Value;

        private static async Task<string> PublishAsync()
        {
            var output = Directory.CreateTempSubdirectory("lbproxy-native-build-").FullName;
            var (exitCode, log) = await ExternalProgram.RunAsync(
                "dotnet",
                ["publish", Path.Combine(RepositoryRoot.Path, "src", "LbProxy"), "-c", "Release", "-nologo", "-p:PublishAot=true", "-o", output],
                timeout: TimeSpan.FromMinutes(10));
            var program = Path.Combine(output, "LbProxy");
            Assert.True(exitCode == 0 && File.Exists(program), $"dotnet publish -p:PublishAot=true failed:\n{log}");
            return program;
        }
    }
}
