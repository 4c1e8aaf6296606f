using LbProxy.Logging;
using Serilog.Core;
using Serilog.Events;
using Serilog.Parsing;

namespace LbProxy.Tests.Logging;

public sealed class BackgroundLogSinkTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Emit_OutputBlocked_ReturnsAtOnceDropsPastTheQueueAndCountsTheDropsWhenItFlowsAgain()
    {
        using var blocked = new ManualResetEventSlim(false);
        var output = new BlockingSink(blocked);
        var sink = new BackgroundLogSink(output, capacity: 100);

        // The writer takes the first event and blocks on it; 100 fill the queue; the other 399 are dropped.
        sink.Emit(Event(0));
        Assert.True(output.Entered.Wait(Bound), "the writer never took the first event");
        var emitting = Task.Run(() =>
        {
            for (var i = 1; i < 500; i++)
            {
                sink.Emit(Event(i));
            }
        });
        Assert.True(await Task.WhenAny(emitting, Task.Delay(Bound)) == emitting, "Emit waited for a blocked output");

        blocked.Set();
        sink.Dispose();

        var lines = output.Rendered;
        Assert.Equal("line 0", lines[0]);
        Assert.Equal(102, lines.Count); // the one in the writer's hands, the 100 queued, and the count
        var dropped = Assert.Single(lines, static l => l.EndsWith("log events dropped: the log output did not keep up", StringComparison.Ordinal));
        Assert.StartsWith("399 ", dropped);
        Assert.Equal(Enumerable.Range(0, 101).Select(static i => $"line {i}"), lines.Where(static l => l.StartsWith("line ", StringComparison.Ordinal)));
    }

    [Fact]
    public void Dispose_WritesEverythingQueuedInOrder()
    {
        using var open = new ManualResetEventSlim(true);
        var output = new BlockingSink(open);
        var sink = new BackgroundLogSink(output);
        for (var i = 0; i < 1000; i++)
        {
            sink.Emit(Event(i));
        }

        sink.Dispose();

        Assert.Equal(Enumerable.Range(0, 1000).Select(static i => $"line {i}"), output.Rendered);
    }

    private static LogEvent Event(int i) =>
        new(DateTimeOffset.UtcNow, LogEventLevel.Warning, null, new MessageTemplateParser().Parse("line {N}"), [new LogEventProperty("N", new ScalarValue(i))]);

    private sealed class BlockingSink(ManualResetEventSlim open) : ILogEventSink
    {
        private readonly List<LogEvent> _events = [];

        /// <summary>Set once the writer is inside <see cref="Emit"/>.</summary>
        public ManualResetEventSlim Entered { get; } = new(false);

        public List<string> Rendered
        {
            get
            {
                lock (_events)
                {
                    return [.. _events.Select(static e => e.RenderMessage(System.Globalization.CultureInfo.InvariantCulture))];
                }
            }
        }

        public void Emit(LogEvent logEvent)
        {
            Entered.Set();
            open.Wait();
            lock (_events)
            {
                _events.Add(logEvent);
            }
        }
    }
}
