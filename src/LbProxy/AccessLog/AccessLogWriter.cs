using System.Threading.Channels;
using Microsoft.Extensions.Options;

namespace LbProxy.AccessLog;

/// <summary>
/// Hands lines from requests to the access log's output (stdout) through a bounded buffer, so that a slow
/// stdout never slows a request: when the buffer is full the line is dropped and counted, never waited for.
/// One reader writes the lines in order, in batches gathered for 20 ms after the first; at idle it holds no thread
/// and no timer.
/// </summary>
/// <remarks>
/// A channel of finished lines in pooled UTF-8 arrays, written by the reader straight to the output in batches,
/// rather than a Serilog logger (a LogEvent, its property dictionary and the console sink's StringWriter per line,
/// about 1 KB, and a lock shared with the application log): a line then allocates nothing in the steady state,
/// and a drop is counted at the moment it happens, per line, in the same counters as every other outcome.
/// </remarks>
/// <remarks>
/// A line is counted written only once the output took it: a write that fails (a full disk, a closed pipe) counts its
/// lines as dropped, so the dropping alert fires. A failure episode is logged once, with its reason, when it starts
/// and once when a write succeeds again (with the lines it lost); <see cref="WriteFailure"/> shows it in status.
/// </remarks>
internal sealed partial class AccessLogWriter : IAsyncDisposable, IDisposable
{
    private static readonly TimeSpan FlushBound = TimeSpan.FromSeconds(5);

    /// <summary>How long the reader lets lines gather after the first one arrives, before writing them.</summary>
    internal static readonly TimeSpan GatherFor = TimeSpan.FromMilliseconds(20);

    private volatile bool _stopping;

    private readonly Channel<AccessLogLine> _channel;
    private readonly AccessLogOutput _output;
    private readonly AccessLogCounters _counters;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Task _reader;
    private volatile string? _failure;
    private long _lostInEpisode;

    public AccessLogWriter(IOptions<AccessLogOptions> options, AccessLogOutput output, AccessLogCounters counters, TimeProvider time, ILogger<AccessLogWriter> logger)
    {
        _output = output;
        _counters = counters;
        _time = time;
        _logger = logger;
        _channel = Channel.CreateBounded<AccessLogLine>(new BoundedChannelOptions(options.Value.BufferSize)
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

    /// <summary>Why the output's last write failed, while it still fails; null once a write succeeds.</summary>
    public string? WriteFailure => _failure;

    /// <summary>Never blocks: the line is buffered, or dropped and counted.</summary>
    public void Enqueue(string line) => Enqueue(AccessLogLine.Encode(line));

    /// <summary>Never blocks: the line is buffered (the writer gives its array back), or dropped and counted.</summary>
    public void Enqueue(AccessLogLine line)
    {
        if (!_channel.Writer.TryWrite(line))
        {
            line.Return();
            _counters.Add(AccessLogOutcome.Dropped);
        }
    }

    /// <summary>Writes what is buffered (bounded in time), then closes the logger.</summary>
    public async ValueTask DisposeAsync()
    {
        _stopping = true;
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
            // Let lines gather before taking them: when the reader drains faster than requests come, every line
            // costs a wake-up of this reader (a sleeping pool thread, with inline socket completions) and a write;
            // a batch holds at most this long's lines (nginx's access_log flush=). A stop drains at once.
            if (!_stopping)
            {
                await Task.Delay(GatherFor, _time).ConfigureAwait(false);
            }

            var written = 0;
            while (reader.TryRead(out var line))
            {
                try
                {
                    _output.Write(line.Bytes);
                }
                finally
                {
                    line.Return();
                }

                written++;
            }

            // Nothing more waiting: the batch goes out, then its lines count as written, or dropped if the output
            // could not take them.
            _output.Flush();
            var lost = Math.Min(_output.TakeLostLines(out var reason), written);
            _counters.Add(AccessLogOutcome.Written, written - lost);
            _counters.Add(AccessLogOutcome.Dropped, lost);
            Track(lost, written - lost, reason);
        }
    }

    /// <summary>One warning when writes start failing, one line when they succeed again; nothing per batch between.</summary>
    private void Track(int lost, int written, string? reason)
    {
        if (lost > 0)
        {
            _lostInEpisode += lost;
            if (_failure is null)
            {
                _failure = reason ?? "write failed";
                LogWriteFailed(_logger, lost, _failure);
            }
        }
        else if (written > 0 && _failure is not null)
        {
            LogWriteRecovered(_logger, _lostInEpisode, _failure);
            _failure = null;
            _lostInEpisode = 0;
        }
    }

    [LoggerMessage(EventId = LogEvents.AccessLogWriteFailed, Level = LogLevel.Error,
        Message = "Access log: writes fail, lines are dropped and counted until one succeeds ({Lost} so far): {Reason}")]
    private static partial void LogWriteFailed(ILogger logger, int lost, string reason);

    [LoggerMessage(EventId = LogEvents.AccessLogWriteRecovered, Level = LogLevel.Warning,
        Message = "Access log: writes succeed again; {Lost} lines were dropped while they failed ({Reason})")]
    private static partial void LogWriteRecovered(ILogger logger, long lost, string reason);
}
