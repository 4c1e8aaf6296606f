using LbProxy.Images;
using Microsoft.Extensions.Primitives;

namespace LbProxy.Tests.Images;

public sealed class ImageFormatNegotiatorTests
{
    [Theory]
    // What browsers send for images
    [InlineData("image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8", "avif")]   // Chrome
    [InlineData("image/avif,image/webp,*/*", "avif")]                                           // Firefox
    [InlineData("image/webp,image/avif,image/*,*/*;q=0.8", "avif")]                             // order does not matter; a tie goes to AVIF
    [InlineData("image/webp,image/png,image/svg+xml,image/*;q=0.8,video/*;q=0.8,*/*;q=0.5", "webp")] // Safari 14
    [InlineData("image/png,image/svg+xml,image/*;q=0.8,video/*;q=0.8,*/*;q=0.5", "original")]         // older Safari
    [InlineData("*/*", "original")]
    [InlineData("image/*", "original")]
    [InlineData("", "original")]
    // q-values
    [InlineData("image/avif;q=0.5,image/webp;q=0.9", "webp")]
    [InlineData("image/avif;q=0,image/webp", "webp")]
    [InlineData("image/avif;q=0, image/webp;q=0", "original")]
    [InlineData("image/webp; q=0.000", "original")]
    [InlineData("IMAGE/AVIF;Q=0.7", "avif")]
    [InlineData("image/avif;charset=x;q=0.3,image/webp;q=0.2", "avif")]
    [InlineData("image/avif;q=banana,image/webp;q=0.1", "webp")]   // a malformed q counts as refused
    [InlineData("image/avifx,image/webpy", "original")]
    public void Negotiate_Accept_GivesTheFormatClass(string accept, string expected) =>
        Assert.Equal(expected, ImageFormatNegotiator.Negotiate(accept).FormatClass);

    [Fact]
    public void Negotiate_SeveralHeaderValues_AreOneList() =>
        Assert.Equal("webp", ImageFormatNegotiator.Negotiate(new StringValues(["image/avif;q=0", "image/webp"])).FormatClass);
}
