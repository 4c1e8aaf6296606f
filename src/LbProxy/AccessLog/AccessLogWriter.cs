using System.Threading.Channels;
using Microsoft.Extensions.Options;

namespace LbProxy.AccessLog;

/// <summary>
/// Hands lines from requests to the access log's Serilog logger through a bounded buffer, so that a slow
/// stdout never slows a request: when the buffer is full the line is dropped and counted, never waited for.
/// One reader writes the lines in order; at idle it holds no thread and no timer.
/// </summary>
/// <remarks>
/// A channel of finished strings, rather than Serilog.Sinks.Async around the console sink: the request
/// thread then allocates the line alone (the LogEvent is built by the reader), and a drop is counted at the
/// moment it happens, per line, in the same counters as every other outcome.
/// </remarks>
internal sealed class AccessLogWriter : IAsyncDisposable, IDisposable
{
    private static readonly TimeSpan FlushBound = TimeSpan.FromSeconds(5);

    private readonly Channel<string> _channel;
    private readonly AccessLogOutput _output;
    private readonly AccessLogCounters _counters;
    private readonly TimeProvider _time;
    private readonly Task _reader;

    public AccessLogWriter(IOptions<AccessLogOptions> options, AccessLogOutput output, AccessLogCounters counters, TimeProvider time)
    {
        _output = output;
        _counters = counters;
        _time = time;
        _channel = Channel.CreateBounded<string>(new BoundedChannelOptions(options.Value.BufferSize)
        {
            // Wait (not Drop*) makes TryWrite answer false when full, which is where a drop is counted.
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = true,
            SingleWriter = false,
        });
        _reader = Task.Run(ReadAsync);
    }

    /// <summary>Lines accepted but not yet written.</summary>
    public int Pending => _channel.Reader.Count;

    /// <summary>Never blocks: the line is buffered, or dropped and counted.</summary>
    public void Enqueue(string line)
    {
        if (!_channel.Writer.TryWrite(line))
        {
            _counters.Add(AccessLogOutcome.Dropped);
        }
    }

    /// <summary>Writes what is buffered (bounded in time), then closes the logger.</summary>
    public async ValueTask DisposeAsync()
    {
        _channel.Writer.TryComplete();
        await _reader.WaitAsync(FlushBound, _time).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _output.Dispose();
    }

    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    private async Task ReadAsync()
    {
        var reader = _channel.Reader;
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            while (reader.TryRead(out var line))
            {
                _output.Write(line, _time.GetUtcNow());
                _counters.Add(AccessLogOutcome.Written);
            }
        }
    }
}
