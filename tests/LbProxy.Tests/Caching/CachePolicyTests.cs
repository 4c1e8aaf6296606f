using LbProxy.Caching;

namespace LbProxy.Tests.Caching;

/// <summary>RFC 9111's storage rules as the hot set applies them.</summary>
public sealed class CachePolicyTests
{
    private static readonly DateTimeOffset Now = new(2026, 6, 1, 12, 0, 0, TimeSpan.Zero);

    [Theory]
    [InlineData("public, max-age=60", 60)]
    [InlineData("max-age=60, s-maxage=600", 600)]
    [InlineData("public", 300)] // the default
    [InlineData("", 300)]
    [InlineData("max-age=\"30\"", 30)]
    public void TryGetFreshness_Storable_HasTheLifetimeTheOriginGave(string cacheControl, int seconds)
    {
        var headers = new HeaderDictionary { ["Cache-Control"] = cacheControl };

        Assert.True(CachePolicy.TryGetFreshness(200, headers, TimeSpan.FromMinutes(5), Now, out var freshness));
        Assert.Equal(TimeSpan.FromSeconds(seconds), freshness.Lifetime);
    }

    [Theory]
    [InlineData(200, "Cache-Control", "private, max-age=60")]
    [InlineData(200, "Cache-Control", "no-store")]
    [InlineData(200, "Cache-Control", "no-cache")]
    [InlineData(200, "Cache-Control", "max-age=0")]
    [InlineData(200, "Set-Cookie", "a=b")]
    [InlineData(200, "Vary", "Accept, Cookie")]
    [InlineData(200, "Vary", "*")]
    [InlineData(200, "Pragma", "no-cache")]
    [InlineData(500, "Cache-Control", "max-age=60")]
    [InlineData(206, "Cache-Control", "max-age=60")]
    [InlineData(200, "Expires", "Thu, 01 Jan 1970 00:00:00 GMT")]
    [InlineData(200, "Expires", "not a date")]
    public void TryGetFreshness_NotForASharedCache_IsNotStored(int status, string header, string value)
    {
        var headers = new HeaderDictionary { [header] = value };

        Assert.False(CachePolicy.TryGetFreshness(status, headers, TimeSpan.FromMinutes(5), Now, out _));
    }

    [Fact]
    public void TryGetFreshness_ZeroDefaultTtl_StoresOnlyWithTheOriginsWord()
    {
        Assert.False(CachePolicy.TryGetFreshness(200, new HeaderDictionary(), TimeSpan.Zero, Now, out _));
        Assert.True(CachePolicy.TryGetFreshness(200, new HeaderDictionary { ["Cache-Control"] = "max-age=5" }, TimeSpan.Zero, Now, out _));
    }

    [Fact]
    public void TryGetFreshness_ExpiresAndAgeAndMustRevalidate_AreRead()
    {
        var headers = new HeaderDictionary
        {
            ["Date"] = "Mon, 01 Jun 2026 12:00:00 GMT",
            ["Expires"] = "Mon, 01 Jun 2026 12:10:00 GMT",
            ["Age"] = "7",
            ["Cache-Control"] = "must-revalidate",
            ["Vary"] = "accept",
        };

        Assert.True(CachePolicy.TryGetFreshness(200, headers, TimeSpan.Zero, Now, out var freshness));
        Assert.Equal(new Freshness(TimeSpan.FromMinutes(10), TimeSpan.FromSeconds(7), true), freshness);
    }

    [Theory]
    [InlineData("GET", null, null, false, null)]
    [InlineData("HEAD", null, null, false, null)]
    [InlineData("POST", null, null, false, "method")]
    [InlineData("GET", "Bearer x", null, false, "request")]
    [InlineData("GET", null, "a=b", false, "request")]
    [InlineData("GET", null, "a=b", true, null)]
    [InlineData("GET", "Bearer x", "a=b", true, "request")]
    public void BypassReason_CredentialsAndMethods(string method, string? authorization, string? cookie, bool allowCookies, string? expected)
    {
        IHeaderDictionary headers = new HeaderDictionary();
        if (authorization is not null)
        {
            headers["Authorization"] = authorization;
        }

        if (cookie is not null)
        {
            headers["Cookie"] = cookie;
        }

        Assert.Equal(expected, CachePolicy.BypassReason(method, headers, allowCookies));
    }

    [Theory]
    [InlineData("bytes=0-99", 0L, 100L, true)]
    [InlineData("bytes=4000-", 4000L, 4096L, true)]
    [InlineData("bytes=-96", 4000L, 4096L, true)]
    [InlineData("bytes=4000-99999", 4000L, 4096L, true)]
    [InlineData("bytes=5000-", 0L, 0L, false)]
    [InlineData("bytes=-0", 0L, 0L, false)]
    public void RangeOf_OneRange(string range, long from, long to, bool satisfiable)
    {
        var entry = HotSetTests.Entry("/r", 4096);

        Assert.Equal((from, to, satisfiable), CacheResponder.RangeOf(new HeaderDictionary { ["Range"] = range }, entry));
    }

    [Theory]
    [InlineData("bytes=0-1,5-6")]
    [InlineData("items=0-1")]
    [InlineData("bytes=9-1")]
    [InlineData("bytes=x-")]
    public void RangeOf_SeveralOrMalformed_WholeBody(string range)
    {
        Assert.Null(CacheResponder.RangeOf(new HeaderDictionary { ["Range"] = range }, HotSetTests.Entry("/r", 4096)));
    }

    [Fact]
    public void RouteSettings_ParsedAndRefused()
    {
        Assert.Equal(new CacheRouteSettings(true, true), CacheRouteSettings.Parse(new Dictionary<string, string> { ["Cache.Enabled"] = "true", ["Cache.AllowCookies"] = "True" }).Settings);
        Assert.Equal(CacheRouteSettings.Off, CacheRouteSettings.Parse(new Dictionary<string, string> { ["Cache.Enabled"] = "false" }).Settings);
        Assert.Equal(CacheRouteSettings.Off, CacheRouteSettings.Parse(null).Settings);
        Assert.Equal("Cache.AllowCookies must be true or false, not '1'", CacheRouteSettings.Parse(new Dictionary<string, string> { ["Cache.AllowCookies"] = "1" }).Error);
    }
}
