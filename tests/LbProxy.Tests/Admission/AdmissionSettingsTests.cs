using LbProxy.Admission;
using LbProxy.Images;
using Microsoft.Extensions.Primitives;

namespace LbProxy.Tests.Admission;

public sealed class AdmissionSettingsTests
{
    [Fact]
    public void NoLimit_IsOff_AndDefaultsFillTheRest()
    {
        Assert.Null(AdmissionSettings.Parse(new Dictionary<string, string>()).Settings);
        Assert.Null(AdmissionSettings.Parse(null).Settings);

        var settings = AdmissionSettings.Parse(new Dictionary<string, string> { ["Concurrency.MaxPerDestination"] = "4" }).Settings!;

        Assert.Equal(new AdmissionSettings(4, 100, TimeSpan.FromSeconds(5), false, false), settings);
        Assert.Equal(5, settings.RetryAfterSeconds);
    }

    [Theory]
    [InlineData("Concurrency.MaxQueue", "10", "Concurrency.MaxQueue")]      // a queue without a limit means nothing
    [InlineData("Concurrency.Limit", "10", "Concurrency.Limit")]            // not a key
    public void KeysWithoutALimit_OrUnknown_AreRefusedByName(string key, string value, string expectedKey)
    {
        var (settings, errorKey, error) = AdmissionSettings.Parse(new Dictionary<string, string> { [key] = value });

        Assert.Null(settings);
        Assert.Equal(expectedKey, errorKey);
        Assert.NotNull(error);
    }

    [Theory]
    [InlineData("00:00:00.200", 1)]
    [InlineData("00:00:02.500", 3)]
    public void RetryAfter_IsTheQueueTimeoutRoundedUp_AtLeastOne(string timeout, int expected)
    {
        var metadata = new Dictionary<string, string> { ["Concurrency.MaxPerDestination"] = "1", ["Concurrency.QueueTimeout"] = timeout };
        var settings = AdmissionSettings.Parse(metadata).Settings;

        Assert.Equal(expected, settings!.RetryAfterSeconds);
    }

    [Theory]
    [InlineData("", "original")]                                  // no Accept: anything, so the original
    [InlineData("image/avif", "avif")]
    [InlineData("image/avif,image/webp", "avif,webp")]
    [InlineData("image/avif,image/webp,*/*", "avif,webp,original")]
    [InlineData("image/webp;q=0,image/jpeg", "original")]
    [InlineData("image/avif,image/*;q=0", "avif")]
    public void Accepted_NamesEveryClassTheClientAllows(string accept, string expected)
    {
        var accepted = ImageFormatNegotiator.Accepted(accept.Length == 0 ? StringValues.Empty : new StringValues(accept));

        var names = new[] { (AcceptedFormats.Avif, "avif"), (AcceptedFormats.Webp, "webp"), (AcceptedFormats.Original, "original") }
            .Where(f => (accepted & f.Item1) != 0)
            .Select(static f => f.Item2);
        Assert.Equal(expected, string.Join(",", names));
    }

    [Theory]
    [InlineData("avif", "image/avif,image/webp,*/*", "webp")]
    [InlineData("avif", "image/avif,*/*", "original")]  // WebP not accepted: straight to the original
    [InlineData("avif", "image/avif", null)]            // nothing cheaper accepted: stays
    [InlineData("webp", "image/webp,*/*", "original")]
    [InlineData("webp", "image/webp", null)]
    [InlineData("original", "*/*", null)]               // nothing is cheaper than the original
    public void CheaperAccepted_IsOneClassCheaper_NeverUnaccepted(string from, string accept, string? expected)
    {
        var cheaper = ImageFormatNegotiator.CheaperAccepted(from, ImageFormatNegotiator.Accepted(new StringValues(accept)));

        Assert.Equal(expected, cheaper?.FormatClass);
    }
}
