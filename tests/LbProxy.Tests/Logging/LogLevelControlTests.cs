using LbProxy.Logging;
using LbProxy.Tests.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Serilog.Core;
using Serilog.Events;

namespace LbProxy.Tests.Logging;

public sealed class LogLevelControlTests
{
    [Theory]
    [InlineData("Debug", LogEventLevel.Debug)]
    [InlineData("debug", LogEventLevel.Debug)]
    [InlineData("Verbose", LogEventLevel.Verbose)]
    [InlineData("Trace", LogEventLevel.Verbose)]
    [InlineData("Information", LogEventLevel.Information)]
    [InlineData("WARNING", LogEventLevel.Warning)]
    [InlineData("Error", LogEventLevel.Error)]
    [InlineData("Fatal", LogEventLevel.Fatal)]
    [InlineData("Critical", LogEventLevel.Fatal)]
    public void TryParseLevel_KnownName_IsAccepted(string text, LogEventLevel expected)
    {
        Assert.True(LogLevelControl.TryParseLevel(text, out var level));
        Assert.Equal(expected, level);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("Loud")]
    [InlineData("1")]
    [InlineData("42")]
    [InlineData("-1")]
    [InlineData("Debug,Error")]
    public void TryParseLevel_BadLevel_IsRefused(string? text)
    {
        Assert.False(LogLevelControl.TryParseLevel(text, out _));
    }

    [Fact]
    public void Set_WithTtl_RevertsToTheConfiguredLevelWhenItExpires()
    {
        var time = new FakeTimeProvider();
        var levelSwitch = new LoggingLevelSwitch(LogEventLevel.Warning);
        using var control = Control(levelSwitch, time, LogEventLevel.Warning);

        var state = control.Set(LogEventLevel.Debug, TimeSpan.FromSeconds(300), "test");
        Assert.Equal(LogEventLevel.Debug, levelSwitch.MinimumLevel);
        Assert.Equal(time.GetUtcNow().AddSeconds(300), state.RevertAt);

        time.Advance(TimeSpan.FromSeconds(299));
        Assert.Equal(LogEventLevel.Debug, levelSwitch.MinimumLevel);
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(LogEventLevel.Warning, levelSwitch.MinimumLevel);
        Assert.Null(control.State.RevertAt);
    }

    [Fact]
    public void Set_WithoutTtlAfterOneWithTtl_CancelsTheRevert()
    {
        var time = new FakeTimeProvider();
        var levelSwitch = new LoggingLevelSwitch(LogEventLevel.Information);
        using var control = Control(levelSwitch, time, LogEventLevel.Information);

        control.Set(LogEventLevel.Debug, TimeSpan.FromSeconds(10), "test");
        control.Set(LogEventLevel.Verbose, null, "test");
        time.Advance(TimeSpan.FromMinutes(5));

        Assert.Equal(LogEventLevel.Verbose, levelSwitch.MinimumLevel);
    }

    [Fact]
    public void Reset_GoesBackToTheConfiguredLevel()
    {
        var levelSwitch = new LoggingLevelSwitch(LogEventLevel.Information);
        using var control = Control(levelSwitch, new FakeTimeProvider(), LogEventLevel.Information);
        control.Set(LogEventLevel.Debug, null, "SIGUSR1");

        var state = control.Reset("SIGUSR2");

        Assert.Equal(LogEventLevel.Information, levelSwitch.MinimumLevel);
        Assert.Equal("Information", state.Level);
        Assert.Equal("Information", state.Configured);
    }

    private static LogLevelControl Control(LoggingLevelSwitch levelSwitch, TimeProvider time, LogEventLevel configured) =>
        new(levelSwitch, TestOptions.Monitor<LoggingOptions>(o => o.Level = configured), time, NullLogger<LogLevelControl>.Instance);
}
