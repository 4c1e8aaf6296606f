using LbProxy.Edge;

namespace LbProxy.Tests.Edge;

public sealed class PathNormalizerTests
{
    private const string Prefix = "/_lb";

    /// <summary>Every spelling a client, a server or an attacker might use for a control path.</summary>
    public static TheoryData<string, string> ControlSpellings => new()
    {
        { "/_lb", "/_lb" },
        { "/_lb/", "/_lb" },
        { "/_lb/status", "/_lb/status" },
        { "/_lb/status/", "/_lb/status" },
        { "/_LB/status", "/_LB/status" },
        { "/_Lb/StAtUs", "/_Lb/StAtUs" },
        { "//_lb/status", "/_lb/status" },
        { "//_lb//status", "/_lb/status" },
        { "///_lb///status///", "/_lb/status" },
        { "/_lb/./status", "/_lb/status" },
        { "/./_lb/status", "/_lb/status" },
        { "/_lb/status/.", "/_lb/status" },
        { "/x/../_lb/status", "/_lb/status" },
        { "/x/y/../../_lb/status", "/_lb/status" },
        { "/../_lb/status", "/_lb/status" },
        { "/../../../_lb/status", "/_lb/status" },
        { "/_lb/x/../status", "/_lb/status" },
        { "/%5Flb/status", "/_lb/status" },
        { "/%5flb/status", "/_lb/status" },
        { "/_%6Cb/status", "/_lb/status" },
        { "/%5F%6C%62/%73tatus", "/_lb/status" },
        { "/%2F_lb/status", "/_lb/status" },
        { "/%2f_lb%2fstatus", "/_lb/status" },
        { "/x%2F..%2F_lb/status", "/_lb/status" },
        { "/%2E/_lb/status", "/_lb/status" },
        { "/x/%2E%2E/_lb/status", "/_lb/status" },
        { "/%255Flb/status", "/_lb/status" },
        { "/%25255Flb/status", "/_lb/status" },
        { "/\\_lb\\status", "/_lb/status" },
        { "/%5C_lb%5Cstatus", "/_lb/status" },
        { "/_lb;v=1/status", "/_lb/status" },
        { "/_lb/status;jsessionid=1", "/_lb/status" },
        { "/_lb/../_lb/status", "/_lb/status" },
        // What Windows and IIS fold into /_lb/status: trailing dots, spaces and tabs of a segment.
        { "/_lb./status", "/_lb/status" },
        { "/_lb%2e/status", "/_lb/status" },
        { "/_lb%20/status", "/_lb/status" },
        { "/_lb%09/status", "/_lb/status" },
        { "/_lb . /status", "/_lb/status" },
        { "/_lb/status.", "/_lb/status" },
        { "/_lb.../status", "/_lb/status" },
    };

    /// <summary>Paths that look like control paths but are not: they must be forwarded and logged.</summary>
    public static TheoryData<string, string> LookAlikes => new()
    {
        { "/_lbx.jpg", "/_lbx.jpg" },
        { "/_lb.jpg", "/_lb.jpg" },
        { "/_lbstatus", "/_lbstatus" },
        { "/images/_lb/x.jpg", "/images/_lb/x.jpg" },
        { "/images/_lb", "/images/_lb" },
        { "/x_lb/status", "/x_lb/status" },
        { "/_l/b/status", "/_l/b/status" },
        { "/_lb/../images/cat.jpg", "/images/cat.jpg" },
        { "/%5Flbx/status", "/_lbx/status" },
        { "/images//cat.jpg", "/images/cat.jpg" },
        { "/images/cat%20grey.jpg", "/images/cat grey.jpg" },
        { "/.well-known/x", "/.well-known/x" },
        { "/images/..cat.jpg", "/images/..cat.jpg" },
    };

    [Theory]
    [MemberData(nameof(ControlSpellings))]
    public void Normalize_ControlSpelling_IsUnderThePrefix(string path, string canonical)
    {
        var normalized = PathNormalizer.Normalize(path);

        Assert.Equal(canonical, normalized);
        Assert.True(PathNormalizer.IsUnder(normalized, Prefix));
    }

    [Theory]
    [MemberData(nameof(LookAlikes))]
    public void Normalize_LookAlike_IsNotUnderThePrefix(string path, string canonical)
    {
        var normalized = PathNormalizer.Normalize(path);

        Assert.Equal(canonical, normalized);
        Assert.False(PathNormalizer.IsUnder(normalized, Prefix));
    }

    [Theory]
    [InlineData("/")]
    [InlineData("/images/cat.jpg")]
    [InlineData("/_lb/status")]
    [InlineData("/a/b.c/d-e_f~g")]
    public void Normalize_CanonicalPath_ReturnsTheSameInstance(string path)
    {
        Assert.Same(path, PathNormalizer.Normalize(path));
    }

    [Theory]
    [InlineData(null, "/")]
    [InlineData("", "/")]
    [InlineData("/", "/")]
    [InlineData("//", "/")]
    [InlineData("/..", "/")]
    [InlineData("/.", "/")]
    [InlineData("relative/x", "/relative/x")]
    [InlineData("/bad%zzescape", "/bad%zzescape")]
    [InlineData("/%", "/%")]
    public void Normalize_EdgeCases_GiveARootedPath(string? path, string canonical)
    {
        Assert.Equal(canonical, PathNormalizer.Normalize(path));
    }

    [Theory]
    [InlineData("/_lb", "/_lb", true)]
    [InlineData("/_lb/status", "/_lb", true)]
    [InlineData("/_LB/STATUS", "/_lb", true)]
    [InlineData("/_lbx", "/_lb", false)]
    [InlineData("/_l", "/_lb", false)]
    [InlineData("/metrics", "/metrics", true)]
    [InlineData("/metrics/x", "/metrics", true)]
    [InlineData("/metricsx", "/metrics", false)]
    [InlineData("/anything", "/", true)]
    public void IsUnder_SegmentBoundaryIgnoringCase(string path, string prefix, bool expected)
    {
        Assert.Equal(expected, PathNormalizer.IsUnder(path, prefix));
    }

    [Theory]
    [InlineData("/_lb", "")]
    [InlineData("/_lb/status", "/status")]
    [InlineData("/_LB/Status", "/Status")]
    public void Below_ControlPath_IsTheRestAfterThePrefix(string path, string rest)
    {
        Assert.Equal(rest, PathNormalizer.Below(path, Prefix).ToString());
    }
}
