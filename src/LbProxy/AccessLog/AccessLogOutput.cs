namespace LbProxy.AccessLog;

/// <summary>
/// Where the access log's lines go: whole UTF-8 lines, written by the writer's one reader, then a flush when
/// no more lines are waiting. By default stdout (<see cref="Console"/>); tests give another.
/// </summary>
internal abstract class AccessLogOutput : IDisposable
{
    /// <summary>Stdout, written directly: no logger, no per-line event or string.</summary>
    public static AccessLogOutput Console() => new StreamAccessLogOutput(System.Console.OpenStandardOutput());

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
/// log writing to the same stdout cannot land inside a line. A stream that fails (stdout closed) loses the
/// batch and never stops the writer.
/// </summary>
internal sealed class StreamAccessLogOutput(Stream stream) : AccessLogOutput
{
    public const int BatchBytes = 4096;

    private readonly byte[] _batch = new byte[BatchBytes];
    private int _used;

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
            WriteOut(whole);
            return;
        }

        line.CopyTo(_batch.AsSpan(_used));
        _batch[_used + line.Length] = (byte)'\n';
        _used += needed;
    }

    public override void Flush()
    {
        if (_used > 0)
        {
            WriteOut(_batch.AsSpan(0, _used));
            _used = 0;
        }
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

    private void WriteOut(ReadOnlySpan<byte> bytes)
    {
        try
        {
            stream.Write(bytes);
        }
        catch (IOException)
        {
            // stdout is gone (EPIPE): nothing can be told there; the lines are lost, the proxy goes on.
        }
        catch (ObjectDisposedException)
        {
        }
    }
}
