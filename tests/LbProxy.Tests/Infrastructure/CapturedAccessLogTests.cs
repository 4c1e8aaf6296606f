using Xunit.Sdk;

namespace LbProxy.Tests.Infrastructure;

public sealed class CapturedAccessLogTests
{
    [Fact]
    public async Task WaitForAsync_LinesArrived_ReturnsThemInOrder()
    {
        var log = new CapturedAccessLog();
        using var output = log.CreateOutput();
        output.Write("first"u8);
        output.Write("second"u8);

        Assert.Equal(["first", "second"], await log.WaitForAsync(2));
    }

    [Fact]
    public async Task WaitForAsync_FewerLinesThanAskedWithinTheBound_FailsShowingWhatCame()
    {
        var log = new CapturedAccessLog();
        using var output = log.CreateOutput();
        output.Write("the only line"u8);

        var error = await Assert.ThrowsAsync<FailException>(() => log.WaitForAsync(2, TimeSpan.FromMilliseconds(200)));

        Assert.Contains("2 access-log line(s) did not happen", error.Message);
        Assert.Contains("1 line(s)", error.Message);
        Assert.Contains("the only line", error.Message);
    }
}
