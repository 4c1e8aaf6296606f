using System.Net;
using System.Net.Http.Headers;
using LbProxy.Edge;
using LbProxy.Images;
using LbProxy.Tests.Infrastructure;
using LbProxy.Transforms;
using Yarp.ReverseProxy.Configuration;
using Yarp.ReverseProxy.Transforms;
using Yarp.ReverseProxy.Transforms.Builder;

namespace LbProxy.Tests.Transforms;

/// <summary>
/// The header transforms alone, built for a route as YARP builds them and run on a proxy request as YARP's
/// forwarder would: the client's headers copied onto it first, then the transforms.
/// </summary>
public sealed class HeaderHygieneTransformProviderTests
{
    private const string TrustedProxy = "10.1.2.3";
    private const string UntrustedClient = "203.0.113.7";
    private readonly TransformBuilderContext _built;

    public HeaderHygieneTransformProviderTests()
    {
        var provider = new HeaderHygieneTransformProvider(
            new TrustedProxies(TestOptions.Monitor<HeadersOptions>(o => o.TrustedProxies = ["10.0.0.0/8"])));
        _built = new TransformBuilderContext { Route = new RouteConfig { RouteId = "images", ClusterId = "images" } };
        provider.Apply(_built);
    }

    [Fact]
    public void Apply_AnyRoute_TurnsYarpsOwnForwardedHeadersOff()
    {
        // Else YARP would set X-Forwarded-* too, trusting every client or none.
        Assert.False(_built.UseDefaultForwarders);
    }

    [Fact]
    public async Task TransformRequest_HeadersNamedInConnection_AreRemovedAndTheRestKept()
    {
        var context = Request(UntrustedClient, ("Connection", "close, X-Hop, keep-alive, x-other-hop"), ("X-Hop", "1"), ("X-Other-Hop", "2"), ("X-Kept", "3"));

        var upstream = await TransformRequestAsync(context);

        Assert.False(upstream.Headers.Contains("X-Hop"));
        Assert.False(upstream.Headers.Contains("X-Other-Hop"));
        Assert.Equal(["3"], upstream.Headers.GetValues("X-Kept"));
    }

    [Fact]
    public async Task TransformRequest_ConnectionNamingAContentHeaderOrAnInvalidName_IsNoErrorAndTheBodyHeadersStay()
    {
        var context = Request(UntrustedClient, ("Connection", "Content-Type, Content-Length, bad@name"));
        using var body = new ByteArrayContent([1, 2, 3, 4]);
        body.Headers.ContentType = new MediaTypeHeaderValue("image/jpeg");

        var upstream = await TransformRequestAsync(context, body);

        Assert.Equal("image/jpeg", upstream.Content!.Headers.ContentType?.MediaType);
        Assert.Equal(4, upstream.Content.Headers.ContentLength);
    }

    [Fact]
    public async Task TransformRequest_UntrustedClient_ForwardedHeadersAreTheProxysOwnAndTheOthersDropped()
    {
        var context = Request(UntrustedClient,
            ("X-Forwarded-For", "6.6.6.6"), ("X-Forwarded-Proto", "https"), ("X-Forwarded-Host", "evil.example"),
            ("X-Forwarded-Prefix", "/admin"), ("Forwarded", "for=6.6.6.6"),
            ("X-Forwarded-Port", "443"), ("X-Forwarded-Server", "evil"), ("X-Real-IP", "6.6.6.6"));

        var upstream = await TransformRequestAsync(context);

        Assert.Equal([UntrustedClient], upstream.Headers.GetValues("X-Forwarded-For"));
        Assert.Equal(["http"], upstream.Headers.GetValues("X-Forwarded-Proto"));
        Assert.Equal(["img.example"], upstream.Headers.GetValues("X-Forwarded-Host"));
        foreach (var dropped in new[] { "X-Forwarded-Prefix", "Forwarded", "X-Forwarded-Port", "X-Forwarded-Server", "X-Real-IP" })
        {
            Assert.False(upstream.Headers.Contains(dropped), dropped);
        }
    }

    [Fact]
    public async Task TransformRequest_TrustedProxy_ForwardedChainIsExtendedAndItsHeadersKept()
    {
        var context = Request(TrustedProxy,
            ("X-Forwarded-For", "198.51.100.1"), ("X-Forwarded-Proto", "https"), ("X-Forwarded-Host", "cdn.example"),
            ("X-Forwarded-Prefix", "/img"), ("Forwarded", "for=198.51.100.1"), ("X-Real-IP", "198.51.100.1"));

        var upstream = await TransformRequestAsync(context);

        Assert.Equal(["198.51.100.1, " + TrustedProxy], upstream.Headers.GetValues("X-Forwarded-For"));
        Assert.Equal(["https"], upstream.Headers.GetValues("X-Forwarded-Proto"));
        Assert.Equal(["cdn.example"], upstream.Headers.GetValues("X-Forwarded-Host"));
        Assert.Equal(["/img"], upstream.Headers.GetValues("X-Forwarded-Prefix"));
        Assert.Equal(["for=198.51.100.1"], upstream.Headers.GetValues("Forwarded"));
        Assert.Equal(["198.51.100.1"], upstream.Headers.GetValues("X-Real-IP"));
    }

    [Fact]
    public async Task TransformRequest_TrustedProxySendingNoForwardedHeaders_TheyAreSetFromTheConnection()
    {
        var upstream = await TransformRequestAsync(Request(TrustedProxy));

        Assert.Equal([TrustedProxy], upstream.Headers.GetValues("X-Forwarded-For"));
        Assert.Equal(["http"], upstream.Headers.GetValues("X-Forwarded-Proto"));
        Assert.Equal(["img.example"], upstream.Headers.GetValues("X-Forwarded-Host"));
    }

    [Fact]
    public async Task TransformRequest_IPv4MappedClient_IsForwardedAsPlainIPv4()
    {
        var upstream = await TransformRequestAsync(Request("::ffff:" + UntrustedClient));

        Assert.Equal([UntrustedClient], upstream.Headers.GetValues("X-Forwarded-For"));
    }

    [Fact]
    public async Task TransformRequest_FormatHeaderFromTheClient_IsDropped()
    {
        var upstream = await TransformRequestAsync(Request(TrustedProxy, (ImageFormats.FormatHeader, "forged")));

        Assert.False(upstream.Headers.Contains(ImageFormats.FormatHeader));
    }

    [Fact]
    public async Task TransformRequest_NegotiatedFormat_IsTheOnlyFormatHeaderSent()
    {
        var context = Request(TrustedProxy, (ImageFormats.FormatHeader, "forged"));
        context.Features.Set<IImageFormatFeature>(ImageFormatFeature.Webp);

        var upstream = await TransformRequestAsync(context);

        Assert.Equal([ImageFormats.Webp], upstream.Headers.GetValues(ImageFormats.FormatHeader));
    }

    [Fact]
    public async Task TransformRequest_RequestId_IsTheRequestsIdWhateverTheClientSent()
    {
        var context = Request(UntrustedClient, ("X-Request-Id", "client-chosen"));
        context.TraceIdentifier = "0123456789abcdef";

        var upstream = await TransformRequestAsync(context);

        Assert.Equal(["0123456789abcdef"], upstream.Headers.GetValues("X-Request-Id"));
    }

    [Theory]
    [InlineData("image/avif", null, "Accept")]
    [InlineData("image/webp", "Origin", "Origin,Accept")]
    [InlineData("image/webp", "Accept-Encoding, Accepted", "Accept-Encoding, Accepted,Accept")]
    [InlineData("IMAGE/JPEG", null, "Accept")]
    public async Task TransformResponse_ImageOfANegotiatedRequest_VariesByAccept(string contentType, string? vary, string expected)
    {
        var context = Request(UntrustedClient);
        context.Features.Set<IImageFormatFeature>(ImageFormatFeature.Avif);
        context.Response.ContentType = contentType;
        if (vary is not null)
        {
            context.Response.Headers.Vary = vary;
        }

        await TransformResponseAsync(context);

        Assert.Equal(expected, string.Join(",", context.Response.Headers.Vary.ToArray()));
    }

    [Theory]
    [InlineData("accept")]
    [InlineData("Origin, Accept")]
    [InlineData("*")]
    [InlineData(" ,Origin,, ACCEPT ")]
    public async Task TransformResponse_VaryAlreadyCoversAccept_IsLeftAsItIs(string vary)
    {
        var context = Request(UntrustedClient);
        context.Features.Set<IImageFormatFeature>(ImageFormatFeature.Avif);
        context.Response.ContentType = "image/avif";
        context.Response.Headers.Vary = vary;

        await TransformResponseAsync(context);

        Assert.Equal(vary, Assert.Single(context.Response.Headers.Vary));
    }

    [Theory]
    [InlineData("image/avif", false)]
    [InlineData("text/plain", true)]
    [InlineData(null, true)]
    public async Task TransformResponse_NotAnImageOrNotNegotiated_AddsNoVary(string? contentType, bool negotiated)
    {
        var context = Request(UntrustedClient);
        if (negotiated)
        {
            context.Features.Set<IImageFormatFeature>(ImageFormatFeature.Original);
        }

        context.Response.ContentType = contentType;

        await TransformResponseAsync(context);

        Assert.Equal(0, context.Response.Headers.Vary.Count);
    }

    [Fact]
    public async Task TransformResponse_HeaderNamedInTheOriginsConnection_IsRemovedAndTheRestKept()
    {
        var context = Request(UntrustedClient);
        using var origin = new HttpResponseMessage(HttpStatusCode.OK);
        origin.Headers.Connection.Add("keep-alive");
        origin.Headers.Connection.Add("X-Origin-Hop");
        // As YARP copied the origin's headers onto the response before the transforms.
        context.Response.Headers["X-Origin-Hop"] = "1";
        context.Response.Headers["X-Kept"] = "2";

        await TransformResponseAsync(context, origin);

        Assert.False(context.Response.Headers.ContainsKey("X-Origin-Hop"));
        Assert.Equal("2", context.Response.Headers["X-Kept"].ToString());
    }

    [Fact]
    public async Task TransformResponse_OriginsConnectionAsOneRawList_EachNamedHeaderRemovedContentHeadersKept()
    {
        var context = Request(UntrustedClient);
        using var origin = new HttpResponseMessage(HttpStatusCode.OK);
        origin.Headers.TryAddWithoutValidation("Connection", " keep-alive ,X-Hop-A,, x-hop-b , Content-Type,Upgrade");
        context.Response.Headers["X-Hop-A"] = "1";
        context.Response.Headers["X-Hop-B"] = "2";
        context.Response.Headers["Upgrade"] = "h2c";
        context.Response.Headers.ContentType = "image/png";
        context.Response.Headers["X-Kept"] = "3";

        await TransformResponseAsync(context, origin);

        Assert.False(context.Response.Headers.ContainsKey("X-Hop-A"));
        Assert.False(context.Response.Headers.ContainsKey("X-Hop-B"));
        Assert.Equal("h2c", context.Response.Headers["Upgrade"].ToString());
        Assert.Equal("image/png", context.Response.ContentType);
        Assert.Equal("3", context.Response.Headers["X-Kept"].ToString());
    }

    [Fact]
    public async Task TransformResponse_RequestId_IsReturnedInsteadOfTheOrigins()
    {
        var context = Request(UntrustedClient);
        context.TraceIdentifier = "0123456789abcdef";
        context.Response.Headers["X-Request-Id"] = "origin-chosen";

        await TransformResponseAsync(context);

        Assert.Equal("0123456789abcdef", context.Response.Headers["X-Request-Id"].ToString());
    }

    private static DefaultHttpContext Request(string client, params (string Name, string Value)[] headers)
    {
        var context = new DefaultHttpContext();
        context.Connection.RemoteIpAddress = IPAddress.Parse(client);
        context.Request.Scheme = "http";
        context.Request.Host = new HostString("img.example");
        context.Request.Path = "/images/a.jpg";
        foreach (var (name, value) in headers)
        {
            context.Request.Headers[name] = value;
        }

        context.TraceIdentifier = "trace-id";
        return context;
    }

    private async Task<HttpRequestMessage> TransformRequestAsync(HttpContext context, HttpContent? body = null)
    {
        var upstream = new HttpRequestMessage(HttpMethod.Get, "http://origin.example/images/a.jpg") { Content = body };
        foreach (var (name, values) in context.Request.Headers)
        {
            // YARP leaves out its own list of hop-by-hop headers; a header that Connection merely names is copied.
            if (name is not ("Connection" or "Host" or "Keep-Alive" or "Transfer-Encoding" or "TE" or "Upgrade"))
            {
                upstream.Headers.TryAddWithoutValidation(name, values.ToArray());
            }
        }

        var transformContext = new RequestTransformContext
        {
            HttpContext = context,
            ProxyRequest = upstream,
            Path = context.Request.Path,
            Query = new QueryTransformContext(context.Request),
            DestinationPrefix = "http://origin.example/",
            HeadersCopied = true,
        };
        foreach (var transform in _built.RequestTransforms)
        {
            await transform.ApplyAsync(transformContext);
        }

        return upstream;
    }

    private async Task TransformResponseAsync(HttpContext context, HttpResponseMessage? origin = null)
    {
        using var ok = new HttpResponseMessage(HttpStatusCode.OK);
        var transformContext = new ResponseTransformContext { HttpContext = context, ProxyResponse = origin ?? ok, HeadersCopied = true };
        foreach (var transform in _built.ResponseTransforms)
        {
            await transform.ApplyAsync(transformContext);
        }
    }
}
