using System.Threading.Channels;
using Serilog.Core;
using Serilog.Events;
using Serilog.Parsing;

namespace LbProxy.Logging;

/// <summary>
/// The application log written off the request path. Socket completions run inline on the I/O threads
/// (<c>Hosting/RuntimeDefaults</c>): a warning logged by a request (a failed forward, an ejection) would write to
/// stdout on such a thread, and a stdout that blocks (a full pipe, a slow log collector) would stall every socket.
/// Here a log call only queues the event; one writer hands the events to the console in order. When the queue is
/// full the event is dropped and counted, and the count is written as a line once the writer catches up: the log
/// loses lines, the proxy loses nothing. Disposal writes what is queued (for at most <see cref="DrainBound"/>).
/// </summary>
internal sealed class BackgroundLogSink : ILogEventSink, IDisposable
{
    public static readonly TimeSpan DrainBound = TimeSpan.FromSeconds(5);

    private static readonly MessageTemplate DroppedTemplate =
        new MessageTemplateParser().Parse("{Dropped} log events dropped: the log output did not keep up");

    private readonly ILogEventSink _inner;
    private readonly Channel<LogEvent> _queue;
    private readonly Task _writer;
    private long _dropped;

    public BackgroundLogSink(ILogEventSink inner, int capacity = 10_000)
    {
        _inner = inner;
        _queue = Channel.CreateBounded<LogEvent>(new BoundedChannelOptions(capacity)
        {
            FullMode = BoundedChannelFullMode.Wait, // TryWrite then says no, and the event is counted as dropped
            SingleReader = true,
        });
        _writer = Task.Run(WriteAsync);
    }

    public void Emit(LogEvent logEvent)
    {
        if (!_queue.Writer.TryWrite(logEvent))
        {
            Interlocked.Increment(ref _dropped);
        }
    }

    public void Dispose()
    {
        _queue.Writer.TryComplete();
        _writer.Wait(DrainBound);
        (_inner as IDisposable)?.Dispose();
    }

    private async Task WriteAsync()
    {
        await foreach (var logEvent in _queue.Reader.ReadAllAsync())
        {
            Write(logEvent);
            var dropped = Interlocked.Exchange(ref _dropped, 0);
            if (dropped > 0)
            {
                Write(new LogEvent(DateTimeOffset.UtcNow, LogEventLevel.Warning, null, DroppedTemplate,
                    [new LogEventProperty("Dropped", new ScalarValue(dropped)), new LogEventProperty(Constants.SourceContextPropertyName, new ScalarValue("LbProxy.Logging"))]));
            }
        }
    }

    private void Write(LogEvent logEvent)
    {
        try
        {
            _inner.Emit(logEvent);
        }
        catch (Exception exception) when (exception is IOException or ObjectDisposedException)
        {
            // stdout is gone (the reader closed the pipe): nothing left to tell, and the proxy goes on.
        }
    }
}
