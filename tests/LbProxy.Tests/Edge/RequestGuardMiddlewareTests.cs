using LbProxy.Edge;
using Microsoft.Extensions.Primitives;

namespace LbProxy.Tests.Edge;

/// <summary>
/// The request guard alone, on requests as Kestrel hands them over. Kestrel refuses most malformed framing
/// before the guard sees it (the raw-socket tests show that end); these reach the guard's every branch.
/// </summary>
public sealed class RequestGuardMiddlewareTests
{
    private bool _nextCalled;

    /// <summary>Method, header lines (one value each; a name given twice is a header sent twice), status, reason.</summary>
    public static TheoryData<string, string, int, string> Refused() => new()
    {
        { "CONNECT", "", 501, "CONNECT is not supported" },
        { "TRACE", "", 405, "TRACE is not allowed" },
        { "trace", "", 405, "TRACE is not allowed" },
        { "POST", "Content-Length: 4\nTransfer-Encoding: chunked", 400, "both Content-Length and Transfer-Encoding" },
        // Kestrel lets Transfer-Encoding win and renames the Content-Length that came with it.
        { "POST", "X-Content-Length: 4\nTransfer-Encoding: chunked", 400, "both Content-Length and Transfer-Encoding" },
        { "POST", "Transfer-Encoding: gzip", 400, "unsupported Transfer-Encoding" },
        { "POST", "Transfer-Encoding: gzip, chunked", 400, "unsupported Transfer-Encoding" },
        { "POST", "Transfer-Encoding: chunked\nTransfer-Encoding: chunked", 400, "unsupported Transfer-Encoding" },
        { "POST", "Transfer-Encoding: xchunked", 400, "unsupported Transfer-Encoding" },
        { "POST", "Content-Length: 4\nContent-Length: 4", 400, "invalid Content-Length" },
        { "POST", "Content-Length: 4, 4", 400, "invalid Content-Length" },
        { "POST", "Content-Length: -1", 400, "invalid Content-Length" },
        { "POST", "Content-Length: four", 400, "invalid Content-Length" },
    };

    public static TheoryData<string, string> Passed() => new()
    {
        { "GET", "" },
        { "HEAD", "" },
        { "DELETE", "" },
        { "POST", "Content-Length: 4" },
        { "POST", "Content-Length: 0" },
        { "POST", "Transfer-Encoding: chunked" },
        { "POST", "Transfer-Encoding:  Chunked " },
        { "GET", "X-Content-Length: 4" }, // only next to a Transfer-Encoding is it Kestrel's renaming
    };

    [Theory]
    [InlineData("HTTP/2", "Transfer-Encoding: chunked", "connection-specific header in an HTTP/2 or HTTP/3 request")]
    [InlineData("HTTP/2", "Upgrade: websocket", "connection-specific header in an HTTP/2 or HTTP/3 request")]
    [InlineData("HTTP/2", "Keep-Alive: timeout=5", "connection-specific header in an HTTP/2 or HTTP/3 request")]
    [InlineData("HTTP/2", "Connection: close", "connection-specific header in an HTTP/2 or HTTP/3 request")]
    [InlineData("HTTP/2", "Proxy-Connection: keep-alive", "connection-specific header in an HTTP/2 or HTTP/3 request")]
    [InlineData("HTTP/2", "TE: gzip", "connection-specific header in an HTTP/2 or HTTP/3 request")]
    [InlineData("HTTP/3", "Transfer-Encoding: chunked", "connection-specific header in an HTTP/2 or HTTP/3 request")]
    [InlineData("HTTP/1.0", "Transfer-Encoding: chunked", "Transfer-Encoding in an HTTP/1.0 request")]
    [InlineData("HTTP/1.1", "Content-Length: +5", "invalid Content-Length")]
    [InlineData("HTTP/1.1", "Content-Length: 5.0", "invalid Content-Length")]
    public async Task Invoke_ByProtocol_MalformedFramingIsRefused(string protocol, string headers, string reason)
    {
        var context = Request("POST", headers);
        context.Request.Protocol = protocol;

        await new RequestGuardMiddleware(Next).Invoke(context);

        Assert.False(_nextCalled, "the request went past the guard");
        Assert.Equal(400, context.Response.StatusCode);
        Assert.Equal(reason + "\n", Body(context));
    }

    [Theory]
    [InlineData("HTTP/2", "TE: trailers")]
    [InlineData("HTTP/2", "Content-Length: 4")]
    [InlineData("HTTP/1.1", "Upgrade: websocket")]
    [InlineData("HTTP/1.0", "Content-Length: 4")]
    public async Task Invoke_ByProtocol_WellFormedGoesOn(string protocol, string headers)
    {
        var context = Request("POST", headers);
        context.Request.Protocol = protocol;

        await new RequestGuardMiddleware(Next).Invoke(context);

        Assert.True(_nextCalled);
    }

    [Theory]
    [MemberData(nameof(Refused))]
    public async Task Invoke_AmbiguousFramingOrUnforwardableMethod_IsRefusedWithoutGoingFurther(
        string method, string headers, int status, string reason)
    {
        var context = Request(method, headers);

        await new RequestGuardMiddleware(Next).Invoke(context);

        Assert.False(_nextCalled, "the request went past the guard");
        Assert.Equal(status, context.Response.StatusCode);
        Assert.Equal(reason + "\n", Body(context));
        Assert.Equal("text/plain; charset=utf-8", context.Response.ContentType);
        // The refused request's body is unread: the connection must not carry another request.
        Assert.Equal("close", context.Response.Headers.Connection.ToString());
    }

    [Theory]
    [MemberData(nameof(Passed))]
    public async Task Invoke_PlainMethodAndFraming_GoesOnUntouched(string method, string headers)
    {
        var context = Request(method, headers);

        await new RequestGuardMiddleware(Next).Invoke(context);

        Assert.True(_nextCalled, "the request was stopped");
        Assert.Equal(StatusCodes.Status200OK, context.Response.StatusCode);
        Assert.Empty(context.Response.Headers);
        Assert.Equal("", Body(context));
    }

    [Fact]
    public async Task Invoke_ConnectionKeptByTheDecoder_PutsBackTheLinesTheClientSent()
    {
        // As Kestrel hands it over: the header rewritten to its one option, the lines sent kept in the feature.
        var context = Request("GET", "Connection: keep-alive");
        var captured = new ConnectionHeaderFeature();
        captured.Keep("keep-alive, X-Secret");
        captured.Keep(" X-Other ");
        context.Features.Set(captured);

        await new RequestGuardMiddleware(Next).Invoke(context);

        Assert.True(_nextCalled);
        Assert.Equal(new string?[] { "keep-alive, X-Secret", " X-Other " }, context.Request.Headers.Connection.ToArray());
        Assert.Equal(0, captured.TakeSent().Count); // taken: the next request on the connection starts from nothing
    }

    [Theory]
    [InlineData("keep-alive")]
    [InlineData(" Close ")]
    public async Task Invoke_OnlyABareOptionSent_LeavesConnectionAsKestrelParsedIt(string sent)
    {
        var context = Request("GET", "Connection: keep-alive");
        var captured = new ConnectionHeaderFeature();
        captured.Keep(sent);
        context.Features.Set(captured);

        await new RequestGuardMiddleware(Next).Invoke(context);

        Assert.Equal("keep-alive", context.Request.Headers.Connection.ToString());
    }

    [Fact]
    public async Task Invoke_LinesKeptButNoConnectionLeft_AddsNone()
    {
        // Lines are put back only in place of a Connection header the request still has, never added.
        var context = Request("GET", "");
        var captured = new ConnectionHeaderFeature();
        captured.Keep("Upgrade, X-Secret");
        context.Features.Set(captured);

        await new RequestGuardMiddleware(Next).Invoke(context);

        Assert.False(context.Request.Headers.ContainsKey("Connection"));
    }

    private Task Next(HttpContext context)
    {
        _nextCalled = true;
        return Task.CompletedTask;
    }

    private static DefaultHttpContext Request(string method, string headers)
    {
        var context = new DefaultHttpContext();
        context.Request.Method = method;
        context.Request.Path = "/images/a.jpg";
        foreach (var line in headers.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            // "Name: value": everything after the one space is the value, spaces included.
            var colon = line.IndexOf(": ", StringComparison.Ordinal);
            var name = line[..colon];
            context.Request.Headers[name] = StringValues.Concat(context.Request.Headers[name], line[(colon + 2)..]);
        }

        context.Response.Body = new MemoryStream();
        return context;
    }

    private static string Body(HttpContext context) => System.Text.Encoding.UTF8.GetString(((MemoryStream)context.Response.Body).ToArray());
}
