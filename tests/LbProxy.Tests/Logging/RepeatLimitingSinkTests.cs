using LbProxy.Logging;
using Microsoft.Extensions.Time.Testing;
using Serilog.Core;
using Serilog.Events;
using Serilog.Formatting.Display;
using Serilog.Parsing;

namespace LbProxy.Tests.Logging;

public sealed class RepeatLimitingSinkTests : IDisposable
{
    private static readonly TimeSpan Window = TimeSpan.FromSeconds(10);
    private readonly FakeTimeProvider _time = new();
    private readonly ListSink _written = new();
    private readonly RepeatLimitingSink _sink;

    public RepeatLimitingSinkTests()
    {
        _sink = new RepeatLimitingSink(_written, limit: 3, Window, _time);
    }

    [Fact]
    public void Emit_SameMessageManyTimes_WritesTheLimitThenOneLineWithTheCountOnceTheWindowEnds()
    {
        for (var i = 0; i < 50; i++)
        {
            _sink.Emit(Event(LogEventLevel.Warning, "Origin {Origin} failed", "a"));
        }

        Assert.Equal(3, _written.Events.Count);
        _time.Advance(Window);
        _sink.Emit(Event(LogEventLevel.Warning, "Origin {Origin} failed", "a"));

        Assert.Equal(5, _written.Events.Count);
        var summary = _written.Rendered[3];
        Assert.StartsWith("47 more like it held back in the last 10 s (at most 3 are written per window): Origin a failed", summary);
        Assert.Equal(LogEventLevel.Warning, _written.Events[3].Level);
        Assert.Equal("Origin a failed", _written.Rendered[4]);
    }

    [Fact]
    public void Emit_OtherMessageAfterTheWindow_WritesTheHeldBackCountToo()
    {
        for (var i = 0; i < 5; i++)
        {
            _sink.Emit(Event(LogEventLevel.Information, "Budget spent for {Cluster}", "images"));
        }

        _time.Advance(Window + TimeSpan.FromSeconds(1));
        _sink.Emit(Event(LogEventLevel.Information, "Something else {X}", "1"));

        Assert.Contains(_written.Rendered, static l => l.StartsWith("2 more like it", StringComparison.Ordinal));
        Assert.Equal("Something else 1", _written.Rendered[^1]);
    }

    [Fact]
    public void Emit_DistinctMessages_EachHasItsOwnLimit()
    {
        for (var i = 0; i < 10; i++)
        {
            _sink.Emit(Event(LogEventLevel.Warning, "First {N}", i));
            _sink.Emit(Event(LogEventLevel.Warning, "Second {N}", i));
        }

        Assert.Equal(6, _written.Events.Count);
    }

    [Fact]
    public void Emit_DebugLines_AreNeverHeldBack()
    {
        for (var i = 0; i < 100; i++)
        {
            _sink.Emit(Event(LogEventLevel.Debug, "Request {N} went to origin-a", i));
        }

        Assert.Equal(100, _written.Events.Count);
    }

    [Fact]
    public void Emit_WarningWithException_OneLineWithTypeAndMessageNoStackTrace()
    {
        var exception = Thrown(new InvalidOperationException("outer", Thrown(new IOException("connection reset\nby peer"))));

        _sink.Emit(Event(LogEventLevel.Warning, "Forward failed", exception: exception));

        var written = Assert.Single(_written.Events);
        Assert.Null(written.Exception);
        Assert.Equal("Forward failed (InvalidOperationException: outer <- IOException: connection reset by peer)", _written.Rendered[0]);
    }

    [Fact]
    public void Emit_ErrorWithException_KeepsTheException()
    {
        var exception = Thrown(new InvalidOperationException("bug"));

        _sink.Emit(Event(LogEventLevel.Error, "Unexpected", exception: exception));

        Assert.Same(exception, Assert.Single(_written.Events).Exception);
    }

    [Fact]
    public void Emit_LimitZero_WritesEverything()
    {
        var sink = new RepeatLimitingSink(_written, limit: 0, Window, _time);
        for (var i = 0; i < 20; i++)
        {
            sink.Emit(Event(LogEventLevel.Warning, "Same"));
        }

        Assert.Equal(20, _written.Events.Count);
    }

    public void Dispose() => _sink.Dispose();

    private static Exception Thrown(Exception exception)
    {
        try
        {
            throw exception;
        }
        catch (Exception caught)
        {
            return caught;
        }
    }

    private LogEvent Event(LogEventLevel level, string template, object? value = null, Exception? exception = null)
    {
        var parsed = new MessageTemplateParser().Parse(template);
        var properties = new List<LogEventProperty> { new(Constants.SourceContextPropertyName, new ScalarValue("Test.Source")) };
        var name = parsed.Tokens.OfType<PropertyToken>().FirstOrDefault()?.PropertyName;
        if (name is not null)
        {
            properties.Add(new LogEventProperty(name, new ScalarValue(value)));
        }

        return new LogEvent(_time.GetUtcNow(), level, exception, parsed, properties);
    }

    private sealed class ListSink : ILogEventSink
    {
        public List<LogEvent> Events { get; } = [];

        // As the console writes a message: strings without quotes.
        public List<string> Rendered => [.. Events.Select(static e =>
        {
            using var writer = new StringWriter();
            new MessageTemplateTextFormatter("{Message:lj}").Format(e, writer);
            return writer.ToString();
        })];

        public void Emit(LogEvent logEvent) => Events.Add(logEvent);
    }
}
