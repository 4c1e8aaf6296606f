using System.Text.Json.Nodes;
using LbProxy.Tests.Infrastructure;

namespace LbProxy.Tests.Functional;

/// <summary>
/// The request target an origin receives, read from the bytes on its socket (<see cref="RawOrigin"/>): the path and
/// query as the client sent them, as nginx and HAProxy pass them, while routing matches on the decoded path.
/// </summary>
public sealed class RequestTargetTests : IAsyncLifetime
{
    private RawOrigin _origin = null!;
    private TestProxy _proxy = null!;

    public async Task InitializeAsync()
    {
        _origin = RawOrigin.Start("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
        var config = JsonNode.Parse(new TestConfig()
            .Route("images", "images", "/images/{**path}")
            .Route("tagged", "images", "/tagged/{**path}")
            .Route("moved", "images", "/moved/{**path}")
            .Route("prefixed", "images", "/prefixed/{**path}")
            .Route("pattern", "images", "/pattern/{**path}")
            .Route("set", "images", "/set/{**path}")
            .Cluster("images", [("origin", _origin.Address)])
            .ToJson())!;
        // YARP's own transforms: a query parameter added, a prefix removed.
        config["ReverseProxy"]!["Routes"]!["tagged"]!["Transforms"] = new JsonArray(new JsonObject { ["QueryValueParameter"] = "v", ["Append"] = "1" });
        config["ReverseProxy"]!["Routes"]!["moved"]!["Transforms"] = new JsonArray(new JsonObject { ["PathRemovePrefix"] = "/moved" });
        config["ReverseProxy"]!["Routes"]!["prefixed"]!["Transforms"] = new JsonArray(new JsonObject { ["PathPrefix"] = "/v1" });
        config["ReverseProxy"]!["Routes"]!["pattern"]!["Transforms"] = new JsonArray(new JsonObject { ["PathPattern"] = "/img/{**path}" });
        config["ReverseProxy"]!["Routes"]!["set"]!["Transforms"] = new JsonArray(new JsonObject { ["PathSet"] = "/fixed.jpg" });
        _proxy = await TestProxy.StartAsync(config.ToJsonString());
    }

    public async Task DisposeAsync()
    {
        await _proxy.DisposeAsync();
        await _origin.DisposeAsync();
    }

    [Theory]
    [InlineData("/images/caf%E9.jpg")]              // a percent-encoded byte that is no UTF-8: was caf%25E9.jpg, a 404
    [InlineData("/images/caf%C3%A9.jpg")]           // valid UTF-8, encoded
    [InlineData("/images/a.jpg?q=a%2Bb")]           // an encoded plus: was decoded, a space to the origin
    [InlineData("/images/a.jpg?q=a+b&r=%26%3D")]    // a plus, an encoded & and =
    [InlineData("/images/a%20b.jpg?q=%E9")]         // an encoded space; a non-UTF-8 byte in the query
    [InlineData("/images/a%3Fb.jpg")]               // an encoded ? stays in the path
    [InlineData("/images/caf%e9.jpg")]              // lower-case hex digits
    [InlineData("/images/a;v=1/%E9%E9/b.jpg?%E9")]  // segment parameters, several segments
    public async Task Target_ReachesTheOriginAsSent(string target)
    {
        var response = await RawHttp.GetAsync(_proxy.Address, target);

        Assert.Equal(200, response.StatusCode);
        Assert.Equal(target, TargetAtOrigin());
    }

    [Theory]
    [InlineData("/images/A%7e.jpg", "/images/A~.jpg")]          // an encoded unreserved character: the same URI (RFC 3986 §6.2.2.2)
    [InlineData("/images/a/./b.jpg", "/images/a/b.jpg")]        // dot segments: resolved before routing, sent resolved
    [InlineData("/images/a/../b%E9.jpg", "/images/b%25E9.jpg")] // so is the rest of such a path, as before
    [InlineData("/images/a%2Fb%E9.jpg", "/images/a%252Fb%25E9.jpg")] // an encoded slash never reaches an origin as one
    [InlineData("/images/%2E%2E%E9.jpg", "/images/..%25E9.jpg")]  // nor an encoded dot
    public async Task Target_ThatCouldChangeItsSegments_GoesUpAsBefore(string target, string atOrigin)
    {
        var response = await RawHttp.GetAsync(_proxy.Address, target);

        Assert.Equal(200, response.StatusCode);
        Assert.Equal(atOrigin, TargetAtOrigin());
    }

    [Theory]
    [InlineData("/tagged/caf%E9.jpg?q=a", "/tagged/caf%E9.jpg?q=a&v=1")]
    // YARP rebuilds a query it transforms from the decoded parameters: a plus is a space there (documented).
    [InlineData("/tagged/a.jpg?q=a+b%2Bc", "/tagged/a.jpg?q=a%20b%2Bc&v=1")]
    public async Task QueryTransform_AddsItsParameter_AndThePathStaysAsSent(string target, string atOrigin)
    {
        var response = await RawHttp.GetAsync(_proxy.Address, target);

        Assert.Equal(200, response.StatusCode);
        Assert.Equal(atOrigin, TargetAtOrigin());
    }

    [Fact]
    public async Task PathTransform_ItsPathGoesUpAsYarpBuildsIt()
    {
        // A path a route's transform rewrote is no longer the client's: YARP encodes it, as before.
        var response = await RawHttp.GetAsync(_proxy.Address, "/moved/a%20b.jpg");

        Assert.Equal(200, response.StatusCode);
        Assert.Equal("/a%20b.jpg", TargetAtOrigin());
    }

    [Theory]
    [InlineData("/moved/caf%E9.jpg", "/caf%E9.jpg")]                        // PathRemovePrefix: was /caf%25E9.jpg
    [InlineData("/moved/a/caf%e9%E9.jpg?q=%E9", "/a/caf%e9%E9.jpg?q=%E9")]   // several segments, a query
    [InlineData("/moved/a%20b/caf%E9.jpg", "/a%20b/caf%E9.jpg")]             // an encoded space, as sent
    [InlineData("/prefixed/caf%E9.jpg", "/v1/prefixed/caf%E9.jpg")]          // PathPrefix: the prefix, then the path as sent
    [InlineData("/pattern/x/caf%E9.jpg", "/img/x/caf%E9.jpg")]               // PathPattern: the catch-all's part as sent
    [InlineData("/set/caf%E9.jpg", "/fixed.jpg")]                           // PathSet: nothing of the client's path is left
    public async Task PathTransform_ThePartOfThePathItKeeps_GoesUpAsSent(string target, string atOrigin)
    {
        var response = await RawHttp.GetAsync(_proxy.Address, target);

        Assert.Equal(200, response.StatusCode);
        Assert.Equal(atOrigin, TargetAtOrigin());
    }

    [Theory]
    [InlineData("/moved/a%2Fb%E9.jpg", "/a%252Fb%25E9.jpg")]   // an encoded slash never reaches an origin as one
    [InlineData("/moved/%2E%2E%E9.jpg", "/..%25E9.jpg")]       // nor an encoded dot
    [InlineData("/moved/a/../b%E9.jpg", "/b%25E9.jpg")]        // a path with a dot segment goes YARP's way
    public async Task PathTransform_APathThatCouldChangeItsSegments_GoesUpAsYarpBuildsIt(string target, string atOrigin)
    {
        var response = await RawHttp.GetAsync(_proxy.Address, target);

        Assert.Equal(200, response.StatusCode);
        Assert.Equal(atOrigin, TargetAtOrigin());
    }

    /// <summary>The request target of the one request the origin received.</summary>
    private string TargetAtOrigin()
    {
        var head = Assert.Single(_origin.Heads);
        var requestLine = head[..head.IndexOf("\r\n", StringComparison.Ordinal)];
        return requestLine.Split(' ')[1];
    }
}
