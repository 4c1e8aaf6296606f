using LbProxy.Forwarding;

namespace LbProxy.Tests.Configuration;

/// <summary>The TimeSpan bounds of options, as the generated validators apply them (both builds run this code).</summary>
public sealed class TimeSpanRangeAttributeTests
{
    [Theory]
    [InlineData("00:00:00.100", true)]
    [InlineData("00:01:00", true)]
    [InlineData("00:00:00.099", false)]
    [InlineData("00:01:00.001", false)]
    public void ConnectTimeout_BoundsAreInclusive(string value, bool valid)
    {
        var options = new ForwardingOptions { ConnectTimeout = TimeSpan.Parse(value, System.Globalization.CultureInfo.InvariantCulture) };

        var result = new ForwardingOptionsValidator().Validate(null, options);

        Assert.Equal(!valid, result.Failed);
        if (!valid)
        {
            Assert.Equal(["ConnectTimeout: The field ForwardingOptions.ConnectTimeout must be between 00:00:00.1000000 and 00:01:00."], result.Failures);
        }
    }
}
