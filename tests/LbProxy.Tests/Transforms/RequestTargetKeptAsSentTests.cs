using LbProxy.Transforms;

namespace LbProxy.Tests.Transforms;

/// <summary>
/// What a path transform kept of the client's path keeps its spelling: whole trailing segments only, counted on the
/// raw path (whose segments decode one for one to the decoded path's), the transform's own part encoded as YARP does.
/// </summary>
public sealed class RequestTargetKeptAsSentTests
{
    [Theory]
    [InlineData("/moved/caf%E9.jpg", "/moved/caf%E9.jpg", "/caf%E9.jpg", "/caf%E9.jpg")]              // PathRemovePrefix
    [InlineData("/images/a%20b/caf%E9.jpg", "/images/a b/caf%E9.jpg", "/v1/images/a b/caf%E9.jpg", "/v1/images/a%20b/caf%E9.jpg")] // PathPrefix
    [InlineData("/pattern/x/caf%E9.jpg", "/pattern/x/caf%E9.jpg", "/img/x/caf%E9.jpg", "/img/x/caf%E9.jpg")] // PathPattern
    [InlineData("/p/caf%C3%A9.jpg", "/p/café.jpg", "/a b/café.jpg", "/a%20b/caf%C3%A9.jpg")]          // the transform's part as YARP encodes it
    public void SharedTrailingSegments_KeepTheRawSpelling(string raw, string sent, string forwarded, string expected) =>
        Assert.Equal(expected, RequestTargetTransformProvider.KeptAsSent(raw, sent, forwarded));

    [Theory]
    [InlineData("/set/caf%E9.jpg", "/set/caf%E9.jpg", "/fixed.jpg")]        // PathSet: nothing in common
    [InlineData("/a/xcaf%E9.jpg", "/a/xcaf%E9.jpg", "/ycaf%E9.jpg")]        // a common tail inside a segment is not a segment
    public void NoSharedWholeSegment_IsYarpsWay(string raw, string sent, string forwarded) =>
        Assert.Null(RequestTargetTransformProvider.KeptAsSent(raw, sent, forwarded));
}
