using Origin = LbProxy.SampleOrigin.ImageFormats;
using Proxy = LbProxy.Images.ImageFormats;

namespace LbProxy.Tests.Images;

/// <summary>The sample origin plays an external origin with its own copy of the wire contract: the two must agree.</summary>
public sealed class WireContractTests
{
    [Fact]
    public void FormatHeaderAndClasses_SampleOriginCopy_MatchTheProxys()
    {
        Assert.Equal(Proxy.FormatHeader, Origin.FormatHeader);
        Assert.Equal([Proxy.Avif, Proxy.Webp, Proxy.Original], new[] { Origin.Avif, Origin.Webp, Origin.Original });
    }
}
