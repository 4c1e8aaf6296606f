using System.Diagnostics.Metrics;
using LbProxy.AccessLog;
using LbProxy.Metrics;
using LbProxy.Tests.Infrastructure;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using System.Text;
using Microsoft.Extensions.Options;

namespace LbProxy.Tests.AccessLog;

public sealed class AccessLogWriterTests
{
    [Fact]
    public async Task Enqueue_LinesArriveInOrderAndAreCountedWritten()
    {
        using var meters = new TestMeterFactory();
        var counters = new AccessLogCounters(meters);
        using var collector = new MetricCollector<long>(meters, LbProxyMeter.Name, AccessLogCounters.InstrumentName);
        using var sink = new BlockingSink();
        await using (var writer = Writer(sink, counters, bufferSize: 100))
        {
            for (var i = 0; i < 50; i++)
            {
                writer.Enqueue($"line {i}");
            }
        } // disposing flushes

        Assert.Equal(Enumerable.Range(0, 50).Select(i => $"line {i}"), sink.Lines);
        Assert.Equal(50, counters.Get(AccessLogOutcome.Written));
        Assert.Equal(0, counters.Get(AccessLogOutcome.Dropped));
        collector.RecordObservableInstruments();
        Assert.Equal(50, collector.GetMeasurementSnapshot().Where(m => Equals(m.Tags["outcome"], "written")).Sum(m => m.Value));
    }

    [Fact]
    public async Task Enqueue_BufferFull_DropsAndCountsWithoutWaiting()
    {
        using var meters = new TestMeterFactory();
        var counters = new AccessLogCounters(meters);
        using var collector = new MetricCollector<long>(meters, LbProxyMeter.Name, AccessLogCounters.InstrumentName);
        using var sink = new BlockingSink();
        sink.Block();
        await using var writer = Writer(sink, counters, bufferSize: 16);

        writer.Enqueue("first"); // taken by the reader, which then blocks in the sink
        Assert.True(sink.Entered.Wait(TimeSpan.FromSeconds(10)), "the reader reached the sink");
        // stdout is stuck: these calls must all return at once, 16 buffered and the rest dropped.
        for (var i = 0; i < 100; i++)
        {
            writer.Enqueue($"line {i}");
        }

        Assert.Equal(84, counters.Get(AccessLogOutcome.Dropped));
        collector.RecordObservableInstruments();
        Assert.Equal(84, collector.GetMeasurementSnapshot().Where(m => Equals(m.Tags["outcome"], "dropped")).Sum(m => m.Value));
        Assert.Equal(16, writer.Pending);

        sink.Release();
        await writer.DisposeAsync();
        Assert.Equal(17, counters.Get(AccessLogOutcome.Written));
        Assert.Equal(["first", .. Enumerable.Range(0, 16).Select(i => $"line {i}")], sink.Lines);
    }

    [Fact]
    public async Task Enqueue_LinesThatComeTogether_AreWrittenAsOneBatch()
    {
        using var meters = new TestMeterFactory();
        var counters = new AccessLogCounters(meters);
        var output = new CountingOutput();
        await using (var writer = Writer(output, counters, bufferSize: 1000))
        {
            for (var i = 0; i < 200; i++)
            {
                writer.Enqueue($"line {i}");
            }

            await Poll.UntilAsync(() => Task.FromResult(counters.Get(AccessLogOutcome.Written)), n => n == 200,
                TimeSpan.FromSeconds(10), "200 lines written", n => $"{n} written");
        }

        // One wake-up of the reader and one write for the lot (two at most, should it wake between two lines).
        Assert.InRange(output.Flushes, 1, 2);
        Assert.Equal(200, output.Lines);
    }

    private static AccessLogWriter Writer(AccessLogOutput output, AccessLogCounters counters, int bufferSize) => new(
        Options.Create(new AccessLogOptions { BufferSize = bufferSize }),
        output,
        counters,
        TimeProvider.System,
        Microsoft.Extensions.Logging.Abstractions.NullLogger<AccessLogWriter>.Instance);

    private sealed class CountingOutput : AccessLogOutput
    {
        public int Lines { get; private set; }

        public int Flushes { get; private set; }

        public override void Write(ReadOnlySpan<byte> line) => Lines++;

        public override void Flush() => Flushes++;
    }

    /// <summary>A sink that can be made to hang, as a stdout whose reader stopped reading does.</summary>
    private sealed class BlockingSink : AccessLogOutput
    {
        private readonly ManualResetEventSlim _open = new(true);
        private readonly List<string> _lines = [];

        public ManualResetEventSlim Entered { get; } = new();

        public IReadOnlyList<string> Lines
        {
            get
            {
                lock (_lines)
                {
                    return [.. _lines];
                }
            }
        }

        public void Block() => _open.Reset();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _open.Dispose();
                Entered.Dispose();
            }

            base.Dispose(disposing);
        }

        public void Release() => _open.Set();

        public override void Write(ReadOnlySpan<byte> line)
        {
            Entered.Set();
            _open.Wait(TimeSpan.FromSeconds(30));
            lock (_lines)
            {
                _lines.Add(Encoding.UTF8.GetString(line));
            }
        }
    }
}
