using System.Net;
using LbProxy.SampleOrigin;
using LbProxy.Tests.Infrastructure;

namespace LbProxy.Tests.Functional;

/// <summary>The program as a user runs it: a child process, its exit code and what it prints.</summary>
public sealed class ProgramTests : IDisposable
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);
    private readonly DirectoryInfo _directory = Directory.CreateTempSubdirectory("lbproxy-program-");

    [Fact]
    public async Task Validate_ShippedConfig_ExitsZero()
    {
        var (exitCode, output) = await ProxyProcess.RunToExitAsync(RepositoryRoot.Path, Bound, "validate", "yarp.json");

        Assert.Equal(0, exitCode);
        Assert.Contains("config ok", output);
    }

    [Fact]
    public async Task Validate_TruncatedFile_ExitsOneWithLineAndColumn()
    {
        var shipped = await File.ReadAllTextAsync(Path.Combine(RepositoryRoot.Path, "yarp.json"));
        var path = Write("truncated.json", shipped[..(shipped.Length / 2)]);

        var (exitCode, output) = await ProxyProcess.RunToExitAsync(_directory.FullName, Bound, "validate", path);

        Assert.Equal(1, exitCode);
        Assert.Matches(@"truncated\.json:\d+:\d+: invalid JSON", output);
    }

    [Fact]
    public async Task Validate_SemanticErrors_ExitsOneListingEveryErrorWithItsPlace()
    {
        var path = Write("bad.json", """
            {
              "ReverseProxy": {
                "Routes": {
                  "images": { "ClusterId": "nope", "Match": { "Path": "/images/{**path}" } },
                  "broken": { "ClusterId": "empty", "Match": { "Path": "/x/{**path" } }
                },
                "Clusters": {
                  "empty": { "Destinations": {} }
                }
              },
              "LbProxy": { "Forwarding": { "ConnectTimeout": "00:10:00" } }
            }
            """);

        var (exitCode, output) = await ProxyProcess.RunToExitAsync(_directory.FullName, Bound, "validate", path);

        Assert.Equal(1, exitCode);
        Assert.Contains("bad.json:4:19: ReverseProxy:Routes:images:ClusterId: route 'images' names unknown cluster 'nope'", output);
        Assert.Contains("cluster 'empty' has no destinations", output);
        Assert.Contains("Invalid path '/x/{**path' for route 'broken'", output);
        Assert.Contains("bad.json:11:32: LbProxy:Forwarding:ConnectTimeout: ", output);
        Assert.Contains("4 error(s)", output);
    }

    [Theory]
    [InlineData("")]
    [InlineData("   \n")]
    [InlineData("[1, 2]")]
    [InlineData("{ \"ReverseProxy\": { \"Routes\": {}, \"Routes\": {} } }")]
    public async Task Validate_UnusableFile_ExitsOne(string content)
    {
        var path = Write("unusable.json", content);

        var (exitCode, output) = await ProxyProcess.RunToExitAsync(_directory.FullName, Bound, "validate", path);

        Assert.Equal(1, exitCode);
        Assert.Contains("unusable.json", output);
    }

    [Fact]
    public async Task Validate_MissingFile_ExitsOne()
    {
        var (exitCode, output) = await ProxyProcess.RunToExitAsync(_directory.FullName, Bound, "validate", "no-such.json");

        Assert.Equal(1, exitCode);
        Assert.Contains("no-such.json", output);
    }

    [Fact]
    public async Task Serve_BadConfig_ExitsOneWithTheSameMessage()
    {
        var path = Write("bad.json", """{ "ReverseProxy": { "Routes": { "r": { "ClusterId": "nope", "Match": { "Path": "/{**p}" } } } } }""");

        var (exitCode, output) = await ProxyProcess.RunToExitAsync(_directory.FullName, Bound, "--config", path, "--urls", "http://127.0.0.1:0");

        Assert.Equal(1, exitCode);
        Assert.Contains("route 'r' names unknown cluster 'nope'", output);
        Assert.DoesNotContain("Now listening", output);
    }

    [Fact]
    public async Task Serve_ConfigFromEnvironmentlessDefault_IsTheRepositoryYarpJsonAndServesTheDemo()
    {
        // As the README says: run from the clone with no other step; only the listen port differs.
        await using var proxy = ProxyProcess.Start(RepositoryRoot.Path, "--urls", "http://127.0.0.1:0");
        var address = await proxy.WaitUntilListeningAsync(Bound);
        using var client = new HttpClient { BaseAddress = address };

        var origins = new HashSet<string>();
        for (var i = 0; i < 4; i++)
        {
            using var response = await client.GetAsync($"/images/demo-{i}.jpg");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("image/jpeg", response.Content.Headers.ContentType?.MediaType);
            origins.Add(response.Headers.GetValues(SampleOriginServer.OriginIdHeader).Single());
        }

        Assert.Equal(["origin-a", "origin-b"], origins.Order());
        using var healthz = await client.GetAsync("/_lb/healthz");
        Assert.Equal(HttpStatusCode.OK, healthz.StatusCode);
    }

    [Fact]
    public async Task Serve_DemoOriginPortTaken_ExitsOneWithOneLineNamingIt()
    {
        // Another program holds the demo origin's port, as a second demo would.
        using var holder = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        holder.Start();
        var taken = ((IPEndPoint)holder.LocalEndpoint).Port;
        var shipped = await File.ReadAllTextAsync(Path.Combine(RepositoryRoot.Path, "yarp.json"));
        var path = Write("demo.json", shipped.Replace("127.0.0.1:8081", $"127.0.0.1:{taken}", StringComparison.Ordinal)
            .Replace("127.0.0.1:8082", $"127.0.0.1:{LoopbackPorts.Unused()}", StringComparison.Ordinal));

        var (exitCode, output) = await ProxyProcess.RunToExitAsync(_directory.FullName, Bound, "--config", path, "--urls", "http://127.0.0.1:0");

        Assert.Equal(1, exitCode);
        Assert.Contains($"cannot start: demo origin 'origin-a' cannot listen on http://127.0.0.1:{taken}", output);
        Assert.DoesNotContain("Unhandled exception", output);
    }

    [Fact]
    public async Task Validate_MalformedYarpValues_EachAtItsKey_OtherErrorsStillReported()
    {
        var path = Write("values.json", """
            {
              "ReverseProxy": {
                "Routes": {
                  "images": { "ClusterId": "nope", "Order": "first", "Match": { "Path": "/images/{**path}" } }
                },
                "Clusters": {
                  "images": {
                    "HttpRequest": { "ActivityTimeout": "soon" },
                    "HealthCheck": { "Active": { "Enabled": "yes", "Interval": "10s" } },
                    "Destinations": { "a": { "Address": "http://127.0.0.1:9/" } }
                  }
                }
              },
              "LbProxy": { "Forwarding": { "ConnectTimeout": "00:10:00" } }
            }
            """);

        var (exitCode, output) = await ProxyProcess.RunToExitAsync(_directory.FullName, Bound, "validate", path);

        Assert.Equal(1, exitCode);
        Assert.Contains("values.json:4:40: ReverseProxy:Routes:images:Order: 'first' is not a whole number", output);
        Assert.Contains("values.json:4:19: ReverseProxy:Routes:images:ClusterId: route 'images' names unknown cluster 'nope'", output);
        Assert.Contains("values.json:8:26: ReverseProxy:Clusters:images:HttpRequest:ActivityTimeout: 'soon' is not recognized as a valid TimeSpan", output);
        Assert.Contains("values.json:9:38: ReverseProxy:Clusters:images:HealthCheck:Active:Enabled: 'yes' is neither true nor false", output);
        Assert.Contains("values.json:9:56: ReverseProxy:Clusters:images:HealthCheck:Active:Interval: '10s' is not recognized as a valid TimeSpan", output);
        Assert.Contains("values.json:14:32: LbProxy:Forwarding:ConnectTimeout: ", output);
        Assert.Contains("6 error(s)", output);
    }

    [Theory]
    [InlineData("--help")]
    [InlineData("-h")]
    [InlineData("help")]
    [InlineData("--urls", "http://127.0.0.1:0", "--help")]
    public async Task Help_PrintsUsageOnStdout_ExitsZero_StartsNothing(params string[] args)
    {
        var (exitCode, output) = await ProxyProcess.RunToExitAsync(_directory.FullName, Bound, args);

        Assert.Equal(0, exitCode);
        Assert.StartsWith("usage: LbProxy", output.TrimStart(), StringComparison.Ordinal);
        Assert.DoesNotContain("Now listening", output);
    }

    [Theory]
    [InlineData("unknown option '--hepl'", "--hepl", "x")]
    [InlineData("unknown option '--verbose'", "--urls", "http://127.0.0.1:0", "--verbose", "1")]
    [InlineData("option '--config' needs a value", "--config")]
    [InlineData("unexpected argument 'x.json'", "--config", "a.json", "x.json")]
    [InlineData("unknown command 'serve'", "serve")]
    [InlineData("validate needs the PATH of a config file", "validate")]
    [InlineData("unknown option '--strict'", "validate", "yarp.json", "--strict", "1")]
    public async Task UnknownOptionOrCommand_PrintsTheReasonAndUsage_ExitsTwo_StartsNothing(string reason, params string[] args)
    {
        var (exitCode, output) = await ProxyProcess.RunToExitAsync(_directory.FullName, Bound, args);

        Assert.Equal(2, exitCode);
        Assert.Contains($"LbProxy: {reason}", output, StringComparison.Ordinal);
        Assert.Contains("usage: LbProxy", output, StringComparison.Ordinal);
        Assert.DoesNotContain("Now listening", output);
    }

    [Fact]
    public async Task ConfigurationKeyOptions_AreStillTakenAsTheHostTakesThem()
    {
        var path = Write("good.json", """{ "ReverseProxy": { "Routes": { "r": { "ClusterId": "c", "Match": { "Path": "/{**p}" } } }, "Clusters": { "c": { "Destinations": { "d": { "Address": "http://127.0.0.1:9/" } } } } } }""");

        await using var proxy = await ProxyProcess.StartListeningAsync(_directory.FullName, null, Bound,
            ["--config=" + path, "--urls", "http://127.0.0.1:0", "--LbProxy:Control:Token", "t0ken"]);
        using var client = new HttpClient { BaseAddress = proxy.Address };
        using var status = await client.GetAsync("/_lb/status");

        Assert.Equal(HttpStatusCode.Unauthorized, status.StatusCode);
    }

    [Fact]
    public async Task Sighup_InheritedAsIgnored_UnderNohup_IsReArmedAndStillReloads()
    {
        var path = Write("nohup.json", """{ "ReverseProxy": { "Routes": { "r": { "ClusterId": "c", "Match": { "Path": "/{**p}" } } }, "Clusters": { "c": { "Destinations": { "d": { "Address": "http://127.0.0.1:9/" } } } } } }""");
        // Watch off: only SIGHUP reads the file again.
        await using var proxy = await ProxyProcess.StartCommandListeningAsync(_directory.FullName, null, Bound, "nohup",
            ["dotnet", ProxyProcess.ProgramPath, "--config", path, "--urls", "http://127.0.0.1:0",
             "--LbProxy:Config:Watch", "false", "--LbProxy:Logging:Level", "Information"]);
        Assert.True(await proxy.WaitForLineAsync(static l => l.Contains("SIGHUP was inherited as ignored", StringComparison.Ordinal), Bound) >= 0, proxy.Output);

        await File.WriteAllTextAsync(path, (await File.ReadAllTextAsync(path)).Replace("127.0.0.1:9/", "127.0.0.1:10/", StringComparison.Ordinal));
        proxy.Signal(ProxyProcess.SigHup);

        Assert.True(await proxy.WaitForLineAsync(static l => l.Contains("Config generation 2 applied", StringComparison.Ordinal), Bound) >= 0, proxy.Output);
        Assert.False(proxy.HasExited);
    }

    public void Dispose() => _directory.Delete(recursive: true);

    private string Write(string name, string content)
    {
        var path = Path.Combine(_directory.FullName, name);
        File.WriteAllText(path, content);
        return path;
    }
}
