namespace LbProxy.AccessLog;

/// <summary>
/// Where the access log's lines go: whole UTF-8 lines, written by the writer's one reader, then a flush when
/// no more lines are waiting. By default stdout (<see cref="Console"/>), or a file opened for append
/// (<see cref="AppendFile"/>); tests give another.
/// </summary>
internal abstract class AccessLogOutput : IDisposable
{
    /// <summary>Stdout, written directly: no logger, no per-line event or string.</summary>
    public static AccessLogOutput Console() => new StreamAccessLogOutput(System.Console.OpenStandardOutput());

    /// <summary>A file opened for append (<see cref="AppendOnlyFile"/>): every write lands at its end, whoever else writes or truncates it.</summary>
    public static AccessLogOutput AppendFile(string path) => new StreamAccessLogOutput(AppendOnlyFile.Open(path));

    /// <summary>
    /// The lines that <see cref="Write"/> took but that never reached the output (a write failed: a full disk, a
    /// closed pipe) since the last call, and the reason of the last failure; the writer counts them as dropped.
    /// </summary>
    public virtual int TakeLostLines(out string? reason)
    {
        reason = null;
        return 0;
    }

    /// <summary>One line, without its newline. Called by one thread at a time.</summary>
    public abstract void Write(ReadOnlySpan<byte> line);

    /// <summary>Hands on what <see cref="Write"/> kept; called when no line is waiting.</summary>
    public virtual void Flush()
    {
    }

    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    protected virtual void Dispose(bool disposing)
    {
    }
}

/// <summary>
/// Lines gathered in a buffer of <see cref="BatchBytes"/> and written to the stream with one call per batch, never
/// with a line cut in two: a write of at most 4,096 bytes (PIPE_BUF) to a pipe is atomic, so the application
/// log writing to the same stdout cannot land inside a line. A stream that fails (stdout closed, a full disk)
/// loses the batch and never stops the writer; its lines are reported by <see cref="TakeLostLines"/>.
/// </summary>
internal sealed class StreamAccessLogOutput(Stream stream) : AccessLogOutput
{
    public const int BatchBytes = 4096;

    private readonly byte[] _batch = new byte[BatchBytes];
    private int _used;
    private int _linesInBatch;
    private int _lost;
    private string? _lostReason;

    public override void Write(ReadOnlySpan<byte> line)
    {
        var needed = line.Length + 1;
        if (_used + needed > _batch.Length)
        {
            Flush();
        }

        if (needed > _batch.Length)
        {
            // A line longer than a batch: one write of its own.
            var whole = new byte[needed];
            line.CopyTo(whole);
            whole[^1] = (byte)'\n';
            WriteOut(whole, lines: 1);
            return;
        }

        line.CopyTo(_batch.AsSpan(_used));
        _batch[_used + line.Length] = (byte)'\n';
        _used += needed;
        _linesInBatch++;
    }

    public override void Flush()
    {
        if (_used > 0)
        {
            WriteOut(_batch.AsSpan(0, _used), _linesInBatch);
            _used = 0;
            _linesInBatch = 0;
        }
    }

    public override int TakeLostLines(out string? reason)
    {
        var lost = _lost;
        reason = _lostReason;
        _lost = 0;
        _lostReason = null;
        return lost;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            Flush();
            stream.Dispose();
        }

        base.Dispose(disposing);
    }

    /// <summary>
    /// One write; on failure the batch's lines are lost (a part of the batch may have reached a disk that filled up
    /// during the write: the line cut there is counted lost too), the proxy goes on.
    /// </summary>
    private void WriteOut(ReadOnlySpan<byte> bytes, int lines)
    {
        try
        {
            stream.Write(bytes);
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or NotSupportedException or UnauthorizedAccessException)
        {
            // ENOSPC, EPIPE, EIO: the message names which.
            _lost += lines;
            _lostReason = e.Message;
        }
    }
}
