using System.Net;
using LbProxy.SampleOrigin;
using LbProxy.Tests.Infrastructure;

namespace LbProxy.Tests.Functional;

public sealed class RoutingTests
{
    [Theory]
    [InlineData("/images/cat.jpg", "image/jpeg")]
    [InlineData("/images/cat.webp", "image/webp")]
    [InlineData("/images/cat.avif", "image/avif")]
    [InlineData("/images/large/hero.jpg", "image/jpeg")]
    public async Task Get_Image_ReturnsOriginBytesAndContentTypeUnchanged(string path, string contentType)
    {
        await using var origins = await TestOrigins.StartAsync(1);
        await using var proxy = await TestProxy.StartAsync(new TestConfig()
            .Route("images", "images", "/images/{**path}")
            .Cluster("images", origins.All)
            .ToJson());
        using var direct = new HttpClient { BaseAddress = origins[0].Address };

        using var viaProxy = await proxy.Client.GetAsync(path);
        var expected = await direct.GetByteArrayAsync(path);

        Assert.Equal(HttpStatusCode.OK, viaProxy.StatusCode);
        Assert.Equal(contentType, viaProxy.Content.Headers.ContentType?.MediaType);
        Assert.Equal(expected, await viaProxy.Content.ReadAsByteArrayAsync());
        Assert.Equal(expected.Length, viaProxy.Content.Headers.ContentLength);
        Assert.Equal("origin-0", viaProxy.Headers.GetValues(SampleOriginServer.OriginIdHeader).Single());
    }

    [Fact]
    public async Task Get_LargeImage_IsAbout100KB()
    {
        await using var origins = await TestOrigins.StartAsync(1);
        await using var proxy = await TestProxy.StartAsync(new TestConfig()
            .Route("images", "images", "/images/{**path}")
            .Cluster("images", origins.All)
            .ToJson());

        var bytes = await proxy.Client.GetByteArrayAsync("/images/large.jpg");

        Assert.InRange(bytes.Length, 80_000, 130_000);
        Assert.Equal([0xFF, 0xD8, 0xFF], bytes[..3]); // a JPEG
    }

    [Fact]
    public async Task Get_ByPath_ReachesTheRoutesCluster()
    {
        await using var origins = await TestOrigins.StartAsync(2);
        await using var proxy = await TestProxy.StartAsync(new TestConfig()
            .Route("images", "originals", "/images/{**path}")
            .Route("thumbs", "thumbnails", "/thumbs/{**path}")
            .Cluster("originals", [origins[0]])
            .Cluster("thumbnails", [origins[1]])
            .ToJson());

        Assert.Equal("origin-0", await TestOrigins.OriginOfAsync(proxy.Client, "/images/a.jpg"));
        Assert.Equal("origin-1", await TestOrigins.OriginOfAsync(proxy.Client, "/thumbs/a.jpg"));
        using var unrouted = await proxy.Client.GetAsync("/other/a.jpg");
        Assert.Equal(HttpStatusCode.NotFound, unrouted.StatusCode);
        Assert.False(unrouted.Headers.Contains(SampleOriginServer.OriginIdHeader));
        Assert.Equal(1, origins[0].RequestCount);
        Assert.Equal(1, origins[1].RequestCount);
    }

    [Fact]
    public async Task Get_ByHost_ReachesTheRoutesCluster()
    {
        await using var origins = await TestOrigins.StartAsync(2);
        await using var proxy = await TestProxy.StartAsync(new TestConfig()
            .Route("a", "cluster-a", "/{**path}", "img-a.example")
            .Route("b", "cluster-b", "/{**path}", "img-b.example", "*.b.example")
            .Cluster("cluster-a", [origins[0]])
            .Cluster("cluster-b", [origins[1]])
            .ToJson());

        Assert.Equal("origin-0", await TestOrigins.OriginOfAsync(proxy.Client, "/x.jpg", "img-a.example"));
        Assert.Equal("origin-1", await TestOrigins.OriginOfAsync(proxy.Client, "/x.jpg", "img-b.example"));
        Assert.Equal("origin-1", await TestOrigins.OriginOfAsync(proxy.Client, "/x.jpg", "cdn.b.example"));
        using var request = new HttpRequestMessage(HttpMethod.Get, "/x.jpg");
        request.Headers.Host = "other.example";
        using var unmatched = await proxy.Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.NotFound, unmatched.StatusCode);
    }

    [Fact]
    public async Task Get_RoundRobin_SpreadsEvenlyOverBothOrigins()
    {
        await using var origins = await TestOrigins.StartAsync(2);
        await using var proxy = await TestProxy.StartAsync(new TestConfig()
            .Route("images", "images", "/images/{**path}")
            .Cluster("images", origins.All, policy: "RoundRobin")
            .ToJson());

        var seen = new Dictionary<string, int>();
        for (var i = 0; i < 100; i++)
        {
            var origin = await TestOrigins.OriginOfAsync(proxy.Client, $"/images/{i}.jpg");
            seen[origin] = seen.GetValueOrDefault(origin) + 1;
        }

        Assert.Equal(50, seen["origin-0"]);
        Assert.Equal(50, seen["origin-1"]);
        Assert.Equal(50, origins[0].RequestCount);
        Assert.Equal(50, origins[1].RequestCount);
    }

    [Fact]
    public async Task Get_PolicyFromFile_IsTheOneApplied()
    {
        await using var origins = await TestOrigins.StartAsync(3);
        await using var proxy = await TestProxy.StartAsync(new TestConfig()
            .Route("images", "images", "/images/{**path}")
            .Cluster("images", origins.All, policy: "FirstAlphabetical")
            .ToJson());

        for (var i = 0; i < 20; i++)
        {
            Assert.Equal("origin-0", await TestOrigins.OriginOfAsync(proxy.Client, $"/images/{i}.jpg"));
        }

        Assert.Equal(0, origins[1].RequestCount + origins[2].RequestCount);
    }

    [Fact]
    public async Task Get_ControlPaths_AreAnsweredByTheProxyNotForwarded()
    {
        await using var origins = await TestOrigins.StartAsync(1);
        await using var proxy = await TestProxy.StartAsync(TestConfig.CatchAll(origins.All));

        using var healthz = await proxy.Client.GetAsync("/_lb/healthz");
        using var readyz = await proxy.Client.GetAsync("/_lb/readyz");
        using var unknown = await proxy.Client.GetAsync("/_lb/no-such-endpoint");
        using var lookalike = await proxy.Client.GetAsync("/_lbx.jpg");

        Assert.Equal(HttpStatusCode.OK, healthz.StatusCode);
        Assert.Equal("ok", await healthz.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.OK, readyz.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Equal(HttpStatusCode.OK, lookalike.StatusCode);
        Assert.Equal("origin-0", lookalike.Headers.GetValues(SampleOriginServer.OriginIdHeader).Single());
        Assert.Equal(1, origins[0].RequestCount); // only the look-alike reached the origin
    }
}
