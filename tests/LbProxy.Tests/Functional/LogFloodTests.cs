using System.Net;
using LbProxy.Tests.Infrastructure;

namespace LbProxy.Tests.Functional;

/// <summary>
/// An origin that fails every request, with steady traffic: the program's log (its stdout, as an operator reads it)
/// must say so in a few short lines, not one warning with a stack trace per request.
/// </summary>
public sealed class LogFloodTests : IDisposable
{
    private const int Requests = 300;
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);
    private readonly DirectoryInfo _directory = Directory.CreateTempSubdirectory("lbproxy-flood-");

    [Fact]
    public async Task OriginAnsweringGarbage_ManyFailedForwards_FewShortLinesAndNoStackTrace()
    {
        // Not HTTP: every forward fails after the request was sent (no retry, no refused connection to eject on).
        await using var origin = RawOrigin.Start("NOT-HTTP garbage\r\n\r\n");
        var config = Path.Combine(_directory.FullName, "yarp.json");
        File.WriteAllText(config, new TestConfig()
            .Route("images", "images", "/images/{**path}")
            .Cluster("images", [("garbage", origin.Address)])
            .ToJson());
        await using var proxy = await ProxyProcess.StartListeningAsync(_directory.FullName, null, Bound,
            ["--config", config, "--urls", "http://127.0.0.1:0", "--LbProxy:Control:ShutdownGrace", "00:00:00", "--LbProxy:AccessLog:Enabled", "false",
             // One window for the whole run, however slow the machine: the bound below is then exact.
             "--LbProxy:Logging:RepeatWindow", "00:01:00"]);
        using var client = new HttpClient { BaseAddress = proxy.Address, Timeout = Bound };
        var startLine = proxy.StandardOutput.Count;

        var failed = 0;
        for (var i = 0; i < Requests; i++)
        {
            using var response = await client.GetAsync($"/images/{i}.jpg");
            failed += response.StatusCode is HttpStatusCode.BadGateway or HttpStatusCode.ServiceUnavailable ? 1 : 0;
        }

        Assert.Equal(Requests, failed);
        // The host's own start-up lines may still be arriving: they are not about the failures.
        var lines = proxy.StandardOutput.Skip(startLine).Where(static l => !l.Contains("Microsoft.Hosting.Lifetime", StringComparison.Ordinal)).ToList();
        var report = string.Join("\n", lines.Take(60));

        // A stack trace line starts with "   at ": none, whatever the level.
        Assert.DoesNotContain(lines, static l => l.StartsWith("   at ", StringComparison.Ordinal));
        // Each message at most 10 times (the default limit): the forwarder's failure, the passive health check's
        // verdict, and YARP's "no available destinations" once the destination is out (one line, not two).
        Assert.True(lines.Count <= 21, $"{lines.Count} lines for {Requests} failed requests:\n{report}");
        Assert.Contains(lines, static l => l.Contains("(HttpRequestException: Received an invalid status line: 'NOT-HTTP garbage'.)", StringComparison.Ordinal));
    }

    [Fact]
    public async Task DeadCluster_Each503_OneWarningNotTwoIdenticalOnes()
    {
        var config = Path.Combine(_directory.FullName, "dead.json");
        File.WriteAllText(config, new TestConfig()
            .Route("images", "images", "/images/{**path}")
            .Cluster("images", [("dead", new Uri($"http://127.0.0.1:{LoopbackPorts.Unused()}/"))])
            .ToJson());
        await using var proxy = await ProxyProcess.StartListeningAsync(_directory.FullName, null, Bound,
            ["--config", config, "--urls", "http://127.0.0.1:0", "--LbProxy:Control:ShutdownGrace", "00:00:00", "--LbProxy:AccessLog:Enabled", "false",
             "--LbProxy:Logging:RepeatWindow", "00:01:00"]);
        using var client = new HttpClient { BaseAddress = proxy.Address, Timeout = Bound };
        // The first request finds the destination refusing and takes it out; the next ones find no destination.
        using (await client.GetAsync("/images/first.jpg"))
        {
        }

        var unavailable = 0;
        for (var i = 0; i < 5; i++)
        {
            using var response = await client.GetAsync($"/images/{i}.jpg");
            unavailable += response.StatusCode == HttpStatusCode.ServiceUnavailable ? 1 : 0;
        }

        Assert.Equal(5, unavailable);
        await proxy.WaitForLineAsync(static l => l.Contains("ForwarderMiddleware: No available destinations", StringComparison.Ordinal), Bound);
        var noDestination = proxy.StandardOutput.Where(static l => l.Contains("No available destinations", StringComparison.Ordinal)).ToList();
        Assert.InRange(noDestination.Count, 1, 6);
        Assert.All(noDestination, static l => Assert.Contains("ForwarderMiddleware", l, StringComparison.Ordinal));
    }

    public void Dispose() => _directory.Delete(recursive: true);
}
