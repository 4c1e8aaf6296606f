using System.Net;
using System.Security.Authentication;
using System.Text;
using LbProxy.AccessLog;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace LbProxy.Tests.AccessLog;

public sealed class AccessLogTemplateTests
{
    private static readonly DateTime At = new(2026, 3, 4, 5, 6, 7, DateTimeKind.Unspecified);

    [Fact]
    public void Format_DefaultTemplate_IsTheOperatorsLine()
    {
        var template = AccessLogTemplate.Parse(AccessLogOptions.DefaultTemplate);
        var context = Request("GET", "/images/cat.jpg?w=100", referer: "https://shop.example/p/1", ua: "Mozilla/5.0 (X11) Firefox/140.0");

        var line = template.Format(context, new AccessLogMeasurement(At, 200, TimeSpan.FromMilliseconds(12.5), 0));

        Assert.Equal("203.0.113.7 - [2026-03-04 05:06:07] GET /images/cat.jpg?w=100 200 https://shop.example/p/1 Mozilla/5.0 (X11) Firefox/140.0", line);
    }

    [Fact]
    public void Format_NoRefererNoUserAgent_WritesThemEmpty()
    {
        var template = AccessLogTemplate.Parse(AccessLogOptions.DefaultTemplate);

        var line = template.Format(Request("HEAD", "/a.png"), new AccessLogMeasurement(At, 304, TimeSpan.Zero, 0));

        Assert.Equal("203.0.113.7 - [2026-03-04 05:06:07] HEAD /a.png 304  ", line);
    }

    [Fact]
    public void Format_EveryPlaceholder_WritesItsValue()
    {
        var template = AccessLogTemplate.Parse(
            "{method}|{path}|{query}|{url}|{status}|{duration_ms}|{bytes}|{request_id}|{route}|{cluster}|{destination}|{{literal}}");
        var context = Request("GET", "/images/a%20b.jpg?x=1&y=2");
        context.TraceIdentifier = "req-1";

        var line = template.Format(context, new AccessLogMeasurement(At, 404, TimeSpan.FromTicks(15_004_321), 5120));

        // No YARP route was chosen: route, cluster and destination are empty.
        Assert.Equal("GET|/images/a b.jpg|x=1&y=2|/images/a%20b.jpg?x=1&y=2|404|1500.432|5120|req-1||||{literal}", line);
    }

    [Fact]
    public void Format_IPv4MappedAddress_IsWrittenAsIPv4()
    {
        var template = AccessLogTemplate.Parse("{ip}");
        var context = Request("GET", "/");
        context.Connection.RemoteIpAddress = IPAddress.Parse("203.0.113.9").MapToIPv6();

        Assert.Equal("203.0.113.9", template.Format(context, default));
    }

    [Fact]
    public void Format_ControlCharactersInHeaders_AreEscapedSoTheLineStaysOneLine()
    {
        var template = AccessLogTemplate.Parse("{ua}");
        var context = Request("GET", "/", ua: "evil\r\nfake line\u007f");

        Assert.Equal("evil\\x0d\\x0afake line\\x7f", template.Format(context, default));
    }

    [Fact]
    public void Format_RepeatedHeader_JoinsTheValues()
    {
        var template = AccessLogTemplate.Parse("{referer}");
        var context = Request("GET", "/");
        context.Request.Headers.Referer = new(["https://a.example/", "https://b.example/"]);

        Assert.Equal("https://a.example/, https://b.example/", template.Format(context, default));
    }

    [Fact]
    public void Format_VeryLongLine_GrowsBeyondTheStackBuffer()
    {
        var template = AccessLogTemplate.Parse("{url}");
        var longPath = "/" + new string('a', 5000);

        Assert.Equal(longPath, template.Format(Request("GET", longPath), default));
    }

    [Fact]
    public void Format_DefaultTemplate_AllocatesOnlyTheLine()
    {
        var template = AccessLogTemplate.Parse(AccessLogOptions.DefaultTemplate);
        var context = Request("GET", "/images/cat.jpg?w=100", referer: "https://shop.example/p/1", ua: "Mozilla/5.0 (X11) Firefox/140.0");
        var measurement = new AccessLogMeasurement(At, 200, TimeSpan.FromMilliseconds(3), 0);
        template.Format(context, measurement); // first use fills the context's lazily created parts

        var before = GC.GetAllocatedBytesForCurrentThread();
        var line = template.Format(context, measurement);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(StringSize(line.Length), allocated);
    }

    [Fact]
    public void Format_CustomTemplateWithNumbers_AllocatesOnlyTheLine()
    {
        var template = AccessLogTemplate.Parse("{ip} {time} {status} {duration_ms} {bytes} {path} {query}");
        var context = Request("GET", "/images/cat.jpg?w=100");
        var measurement = new AccessLogMeasurement(At, 200, TimeSpan.FromTicks(12_345), 98_765);
        template.Format(context, measurement);

        var before = GC.GetAllocatedBytesForCurrentThread();
        var line = template.Format(context, measurement);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(StringSize(line.Length), allocated);
    }

    [Theory]
    [InlineData("{nope}", "unknown placeholder {nope}")]
    [InlineData("{ip", "unclosed '{'")]
    [InlineData("ip}", "unmatched '}'")]
    [InlineData("{}", "unknown placeholder {}")]
    public void TryParse_BadTemplate_SaysWhy(string text, string expected)
    {
        Assert.False(AccessLogTemplate.TryParse(text, out _, out var error));
        Assert.Contains(expected, error);
    }

    [Fact]
    public void TryParse_Placeholders_AreCaseInsensitive()
    {
        Assert.True(AccessLogTemplate.TryParse("{IP} {Status}", out var template, out _));
        Assert.False(template.UsesBytes);
        Assert.True(AccessLogTemplate.Parse("{bytes}").UsesBytes);
    }

    /// <summary>A string's size on the 64-bit heap: header, method table, length, characters and terminator, rounded to 8.</summary>
    private static long StringSize(int length) => (8 + 8 + 4 + (2 * (length + 1)) + 7) / 8 * 8;

    [Fact]
    public void Format_ProtocolAndTls_HttpsRequestShowsBoth()
    {
        var template = AccessLogTemplate.Parse("{protocol} {tls} {url}");
        var context = Request("GET", "/a.jpg");
        context.Request.Protocol = "HTTP/2";
        context.Features.Set<ITlsHandshakeFeature>(new Handshake(SslProtocols.Tls13));

        Assert.Equal("HTTP/2 TLSv1.3 /a.jpg", template.Format(context, default));

        context.Request.Protocol = "HTTP/1.1";
        context.Features.Set<ITlsHandshakeFeature>(new Handshake(SslProtocols.Tls12));
        Assert.Equal("HTTP/1.1 TLSv1.2 /a.jpg", template.Format(context, default));
    }

    [Fact]
    public void Format_ProtocolAndTls_PlainHttpHasADashForTls()
    {
        var template = AccessLogTemplate.Parse("{protocol} {tls}");
        var context = Request("GET", "/");
        context.Request.Protocol = "HTTP/1.1";

        Assert.Equal("HTTP/1.1 -", template.Format(context, default));
    }

    [Fact]
    public void Format_ProtocolNotYetRead_IsADash()
    {
        var template = AccessLogTemplate.Parse("{protocol}");
        var context = Request("GET", "/");
        context.Request.Protocol = "";

        Assert.Equal("-", template.Format(context, default));
    }

    [Theory]
    [InlineData(AccessLogOptions.DefaultTemplate)]
    [InlineData("{ip} {method} {url} {status} {duration_ms} {protocol} {tls} {route} {cluster} {destination} {request_id}")]
    public void FormatLine_SteadyState_AllocatesNothing(string text)
    {
        var template = AccessLogTemplate.Parse(text);
        var context = Request("GET", "/images/cat.jpg?w=100", referer: "https://shop.example/p/1", ua: "Mozilla/5.0 (X11) Firefox/140.0");
        context.Request.Protocol = "HTTP/2";
        context.Features.Set<ITlsHandshakeFeature>(new Handshake(SslProtocols.Tls13));
        var measurement = new AccessLogMeasurement(At, 200, TimeSpan.FromMilliseconds(12.5), 0);
        for (var i = 0; i < 100; i++)
        {
            template.FormatLine(context, measurement).Return(); // warm: the pool's buckets, the feature cache, the JIT
        }

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 1000; i++)
        {
            template.FormatLine(context, measurement).Return();
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void FormatLine_IsTheUtf8OfFormat()
    {
        var template = AccessLogTemplate.Parse(AccessLogOptions.DefaultTemplate);
        var context = Request("GET", "/bild/äöü.jpg", ua: "Agent ☃");

        var line = template.FormatLine(context, new AccessLogMeasurement(At, 200, TimeSpan.Zero, 0));
        try
        {
            Assert.Equal(template.Format(context, new AccessLogMeasurement(At, 200, TimeSpan.Zero, 0)), Encoding.UTF8.GetString(line.Bytes));
        }
        finally
        {
            line.Return();
        }
    }

#pragma warning disable SYSLIB0058 // the interface's older members; only Protocol is read
    private sealed class Handshake(SslProtocols protocol) : ITlsHandshakeFeature
    {
        public SslProtocols Protocol => protocol;

        public CipherAlgorithmType CipherAlgorithm => CipherAlgorithmType.None;

        public int CipherStrength => 0;

        public HashAlgorithmType HashAlgorithm => HashAlgorithmType.None;

        public int HashStrength => 0;

        public ExchangeAlgorithmType KeyExchangeAlgorithm => ExchangeAlgorithmType.None;

        public int KeyExchangeStrength => 0;
    }
#pragma warning restore SYSLIB0058

    private static DefaultHttpContext Request(string method, string target, string? referer = null, string? ua = null)
    {
        var context = new DefaultHttpContext();
        context.Connection.RemoteIpAddress = IPAddress.Parse("203.0.113.7");
        context.Request.Method = method;
        var query = target.IndexOf('?');
        context.Request.Path = PathString.FromUriComponent(query < 0 ? target : target[..query]);
        context.Request.QueryString = new QueryString(query < 0 ? "" : target[query..]);
        context.Features.Get<IHttpRequestFeature>()!.RawTarget = target;
        if (referer is not null)
        {
            context.Request.Headers.Referer = referer;
        }

        if (ua is not null)
        {
            context.Request.Headers.UserAgent = ua;
        }

        return context;
    }
}
