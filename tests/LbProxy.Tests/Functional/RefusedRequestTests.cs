using System.Net.Sockets;
using System.Text;
using LbProxy.Tests.Infrastructure;

namespace LbProxy.Tests.Functional;

/// <summary>
/// Requests Kestrel refuses before the pipeline still get their access-log line, through the same filter and
/// counters, and are counted by reason on /metrics.
/// </summary>
public sealed class RefusedRequestTests : IAsyncLifetime
{
    private TestOrigins _origins = null!;
    private TestProxy _proxy = null!;

    public static TheoryData<string, string, int, string, string> Refusals() => new()
    {
        { "bad request line", "GARBAGE\r\n\r\n", 400, "invalid_request_line", "- - 400" },
        { "oversized request line", "GET /images/" + new string('a', 9000) + " HTTP/1.1\r\nHost: x\r\n\r\n", 414, "request_line_too_long", "- - 414" },
        { "oversized headers", "GET /images/a.jpg HTTP/1.1\r\nHost: x\r\nX-Big: " + new string('b', 40_000) + "\r\n\r\n", 431, "headers_too_large", "GET /images/a.jpg 431" },
        { "control byte in a header", "GET /images/a.jpg HTTP/1.1\r\nHost: x\r\nX: a\u0004b\r\n\r\n", 400, "invalid_request_headers", "GET /images/a.jpg 400" },
        { "bad chunked body, beyond the guard", "POST /images/a.jpg HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400, "", "POST /images/a.jpg 400" },
    };

    public async Task InitializeAsync()
    {
        _origins = await TestOrigins.StartAsync(1);
        _proxy = await TestProxy.StartAsync(TestConfig.CatchAll(_origins.All),
            "--LbProxy:AccessLog:Template", "{method} {url} {status} {ip}",
            "--Kestrel:Limits:RequestHeadersTimeout", "00:00:01");
    }

    public async Task DisposeAsync()
    {
        await _proxy.DisposeAsync();
        await _origins.DisposeAsync();
    }

    [Theory]
    [MemberData(nameof(Refusals))]
    public async Task Refusal_GetsOneAccessLogLine_AndIsCountedByReason(string name, string raw, int status, string reason, string line)
    {
        var response = await RawHttp.SendAsync(_proxy.Address, raw);

        Assert.True(response.StatusCode == status, $"{name}: status {response.StatusCode}");
        var lines = await _proxy.AccessLog.WaitForAsync(1);
        Assert.Equal($"{line} 127.0.0.1", Assert.Single(lines));
        var scrape = await MetricsScrape.TakeAsync(_proxy.Client);
        // A body that fails while the pipeline reads it is the pipeline's own line, not a refusal before it.
        Assert.Equal(reason == "" ? 0 : 1, scrape.Sum("lbproxy_requests_refused_total"));
        if (reason != "")
        {
            Assert.Equal(1, scrape.Sum("lbproxy_requests_refused_total", ("reason", reason)));
        }

        Assert.Equal(1, scrape.Sum("lbproxy_accesslog_lines_total", ("outcome", "written")));
        Assert.Equal(0, _origins[0].RequestCount);
    }

    [Fact]
    public async Task RequestHeadersTimeout_IsA408_WithItsLine()
    {
        using var client = new TcpClient();
        await client.ConnectAsync(_proxy.Address.Host, _proxy.Address.Port);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes("GET /images/a.jpg HTTP/1.1\r\nHost: x\r\n"));
        var buffer = new byte[1024];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var read = await stream.ReadAsync(buffer, timeout.Token);

        Assert.StartsWith("HTTP/1.1 408", Encoding.ASCII.GetString(buffer, 0, read), StringComparison.Ordinal);
        var lines = await _proxy.AccessLog.WaitForAsync(1);
        Assert.EndsWith("408 127.0.0.1", Assert.Single(lines), StringComparison.Ordinal);
        var scrape = await MetricsScrape.TakeAsync(_proxy.Client);
        Assert.Equal(1, scrape.Sum("lbproxy_requests_refused_total", ("reason", "headers_timeout")));
    }

    [Fact]
    public async Task Refusal_GoesThroughTheFilter_AndItsSkipIsCounted()
    {
        await using var proxy = await TestProxy.StartAsync(TestConfig.CatchAll(_origins.All), "--LbProxy:AccessLog:SkipStatusClasses:0", "4xx");

        var response = await RawHttp.SendAsync(proxy.Address, "GARBAGE\r\n\r\n");

        Assert.Equal(400, response.StatusCode);
        var scrape = await MetricsScrape.TakeAsync(proxy.Client);
        Assert.Equal(1, scrape.Sum("lbproxy_accesslog_lines_total", ("outcome", "skipped_status")));
        Assert.Equal(1, scrape.Sum("lbproxy_requests_refused_total", ("reason", "invalid_request_line")));
    }
}
