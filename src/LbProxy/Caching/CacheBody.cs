using System.Buffers;

namespace LbProxy.Caching;

/// <summary>
/// The bytes of one response body, in 16 KiB arrays from the hot set's own pool (the last one of a body of known length
/// allocated to its exact size, so a 4 KiB image holds 4 KiB): filled once by the request that went to the origin,
/// read meanwhile by the requests collapsed onto it, then held by the hot set. Reference counted: the filler's (then
/// the hot set's) reference and one per reader; the pooled arrays go back to the pool when the last is released,
/// never while a reader may still be copying from them.
/// </summary>
internal sealed class CacheBody
{
    public const int ChunkSize = 16 * 1024;

    /// <summary>
    /// The arrays of evicted bodies, kept for the next fills (at most 8 MiB of them). Not the shared pool, which keeps
    /// only a few arrays per core: the rest of each eviction became garbage in generation 2, collected late, and a
    /// process filling a 64 MiB hot set four times over peaked 100 MiB above its idle RSS (CacheMemoryTests).
    /// </summary>
    private static readonly ArrayPool<byte> Pool = ArrayPool<byte>.Create(ChunkSize, 512);

    private readonly Lock _lock = new();
    private readonly long _expected;
    private readonly long _max;
    private byte[][] _chunks;
    private int _chunkCount;
    private long _length;
    private int _state; // 0 filling, 1 complete, 2 failed
    private TaskCompletionSource? _more;
    private int _refs = 1;

    private CacheBody(long expected, long max)
    {
        _expected = expected;
        _max = max;
        _chunks = new byte[expected >= 0 ? Math.Max(1, (int)((expected + ChunkSize - 1) / ChunkSize)) : 4][];
    }

    /// <summary>A body whose length is known (Content-Length): readers may follow it while it fills.</summary>
    public static CacheBody OfLength(long length) => new(length, length);

    /// <summary>A body of unknown length, at most <paramref name="max"/> bytes: read only once complete.</summary>
    public static CacheBody Growing(long max) => new(-1, max);

    /// <summary>The bytes received so far.</summary>
    public long Length => Volatile.Read(ref _length);

    /// <summary>The length a complete body has: Content-Length, or the bytes received once complete; -1 before.</summary>
    public long ExpectedLength => _expected >= 0 ? _expected : IsComplete ? Length : -1;

    public bool IsComplete => Volatile.Read(ref _state) == 1;

    public bool IsFailed => Volatile.Read(ref _state) == 2;

    /// <summary>Bytes of the arrays held: what the body costs the hot set.</summary>
    public long Capacity
    {
        get
        {
            long capacity = 0;
            for (var i = 0; i < _chunkCount; i++)
            {
                capacity += _chunks[i].Length;
            }

            return capacity;
        }
    }

    /// <summary>Copies bytes in; false when they would exceed the expected length or the maximum (the body is then failed).</summary>
    public bool Append(ReadOnlySpan<byte> data)
    {
        TaskCompletionSource? more;
        lock (_lock)
        {
            if (_state != 0 || _length + data.Length > _max)
            {
                FailLocked();
                return false;
            }

            while (!data.IsEmpty)
            {
                var index = (int)(_length / ChunkSize);
                var offset = (int)(_length % ChunkSize);
                if (offset == 0)
                {
                    if (index == _chunks.Length)
                    {
                        Array.Resize(ref _chunks, _chunks.Length * 2); // growing bodies only: no reader before completion
                    }

                    var remaining = _expected - _length;
                    _chunks[index] = _expected >= 0 && remaining < ChunkSize
                        ? GC.AllocateUninitializedArray<byte>((int)remaining)
                        : Pool.Rent(ChunkSize);
                    _chunkCount = index + 1;
                }

                var chunk = _chunks[index];
                var n = Math.Min(data.Length, Math.Min(chunk.Length, ChunkSize) - offset);
                data[..n].CopyTo(chunk.AsSpan(offset));
                data = data[n..];
                Volatile.Write(ref _length, _length + n);
            }

            more = _more;
            _more = null;
        }

        more?.TrySetResult();
        return true;
    }

    /// <summary>No more bytes: complete when the length is the expected one, failed otherwise.</summary>
    public bool Complete()
    {
        TaskCompletionSource? more;
        bool complete;
        lock (_lock)
        {
            if (_state == 0 && (_expected < 0 || _length == _expected))
            {
                TrimLocked();
                _state = 1;
            }
            else
            {
                FailLocked();
            }

            complete = _state == 1;
            more = _more;
            _more = null;
        }

        more?.TrySetResult();
        return complete;
    }

    public void Fail()
    {
        TaskCompletionSource? more;
        lock (_lock)
        {
            FailLocked();
            more = _more;
            _more = null;
        }

        more?.TrySetResult();
    }

    /// <summary>
    /// Waits until there are more than <paramref name="have"/> bytes or the body is complete; false when it failed.
    /// </summary>
    public async ValueTask<bool> WaitAsync(long have, CancellationToken cancellationToken)
    {
        while (true)
        {
            Task wait;
            lock (_lock)
            {
                if (_state == 2)
                {
                    return false;
                }

                if (_length > have || _state == 1)
                {
                    return true;
                }

                _more ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                wait = _more.Task;
            }

            await wait.WaitAsync(cancellationToken);
        }
    }

    /// <summary>The bytes from <paramref name="offset"/> to the end of their array, at most up to <paramref name="end"/>.</summary>
    public ReadOnlyMemory<byte> Segment(long offset, long end)
    {
        var index = (int)(offset / ChunkSize);
        var start = (int)(offset % ChunkSize);
        var chunk = Volatile.Read(ref _chunks)[index];
        var count = (int)Math.Min(Math.Min(chunk.Length, ChunkSize) - start, end - offset);
        return chunk.AsMemory(start, count);
    }

    /// <summary>Takes a reader's reference; false when the body was already released (evicted, failed).</summary>
    public bool TryAcquire()
    {
        var refs = Volatile.Read(ref _refs);
        while (refs > 0)
        {
            var seen = Interlocked.CompareExchange(ref _refs, refs + 1, refs);
            if (seen == refs)
            {
                return true;
            }

            refs = seen;
        }

        return false;
    }

    /// <summary>Drops a reference; the last one returns the pooled arrays.</summary>
    public void Release()
    {
        if (Interlocked.Decrement(ref _refs) != 0)
        {
            return;
        }

        lock (_lock)
        {
            FailLocked();
            for (var i = 0; i < _chunkCount; i++)
            {
                if (_chunks[i].Length == ChunkSize)
                {
                    Pool.Return(_chunks[i]);
                }

                _chunks[i] = [];
            }

            _chunkCount = 0;
        }
    }

    /// <summary>Copies the bytes into one array (tests, and the bench's checks).</summary>
    public byte[] ToArray()
    {
        var bytes = new byte[Length];
        for (long offset = 0; offset < bytes.Length;)
        {
            var segment = Segment(offset, bytes.Length);
            segment.Span.CopyTo(bytes.AsSpan((int)offset));
            offset += segment.Length;
        }

        return bytes;
    }

    private void FailLocked()
    {
        if (_state == 0)
        {
            _state = 2;
        }
    }

    /// <summary>A growing body's last pooled array swapped for one of its exact size: only before any reader sees it.</summary>
    private void TrimLocked()
    {
        if (_expected >= 0 || _chunkCount == 0)
        {
            return;
        }

        var last = _chunks[_chunkCount - 1];
        var used = (int)(_length - ((long)(_chunkCount - 1) * ChunkSize));
        if (used < last.Length)
        {
            _chunks[_chunkCount - 1] = last.AsSpan(0, used).ToArray();
            Pool.Return(last);
        }
    }
}
