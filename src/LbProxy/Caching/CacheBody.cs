using System.Buffers;

namespace LbProxy.Caching;

/// <summary>
/// The bytes of one response body, in 16 KiB arrays from the hot set's own pool (the last one of a body of known length
/// allocated to its exact size, so a 4 KiB image holds 4 KiB): filled once by the request that went to the origin,
/// read meanwhile by the requests collapsed onto it, then held by the hot set. Reference counted: the filler's (then
/// the hot set's) reference and one per reader; the pooled arrays go back to the pool when the last is released,
/// never while a reader may still be copying from them. Its state is guarded by locking the body itself, which
/// no other code locks: a lock object of its own was 48 bytes more for every stored response.
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

    /// <summary>The length a body of known length has, or the most a growing one may take (<see cref="_known"/> false).</summary>
    private readonly long _max;
    private readonly bool _known;

    /// <summary>
    /// The first array, and the others in <see cref="_rest"/> (index 0 holding the second): most bodies are one array,
    /// and an array of one array would cost them 32 bytes more.
    /// </summary>
    private byte[]? _first;
    private byte[]?[]? _rest;
    private long _length;
    private byte _state; // 0 filling, 1 complete, 2 failed
    private TaskCompletionSource? _more;
    private int _refs = 1;

    private CacheBody(bool known, long max)
    {
        _known = known;
        _max = max;
        var chunks = known ? (max + ChunkSize - 1) / ChunkSize : 0;
        _rest = chunks > 1 ? new byte[chunks - 1][] : null;
    }

    /// <summary>A body whose length is known (Content-Length): readers may follow it while it fills.</summary>
    public static CacheBody OfLength(long length) => new(known: true, length);

    /// <summary>A body of unknown length, at most <paramref name="max"/> bytes: read only once complete.</summary>
    public static CacheBody Growing(long max) => new(known: false, max);

    /// <summary>The bytes received so far.</summary>
    public long Length => Volatile.Read(ref _length);

    /// <summary>The length a complete body has: Content-Length, or the bytes received once complete; -1 before.</summary>
    public long ExpectedLength => _known ? _max : IsComplete ? Length : -1;

    public bool IsComplete => Volatile.Read(ref _state) == 1;

    public bool IsFailed => Volatile.Read(ref _state) == 2;

    /// <summary>Bytes of the arrays held: what the body costs the hot set.</summary>
    public long Capacity
    {
        get
        {
            long capacity = 0;
            for (var i = 0; i < ChunkCount; i++)
            {
                capacity += Chunk(i).Length;
            }

            return capacity;
        }
    }

    /// <summary>Copies bytes in; false when they would exceed the expected length or the maximum (the body is then failed).</summary>
    public bool Append(ReadOnlySpan<byte> data)
    {
        TaskCompletionSource? more;
        lock (this)
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
                    var remaining = _max - _length;
                    SetChunk(index, _known && remaining < ChunkSize ? GC.AllocateUninitializedArray<byte>((int)remaining) : Pool.Rent(ChunkSize));
                }

                var chunk = Chunk(index);
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
        lock (this)
        {
            if (_state == 0 && (!_known || _length == _max))
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
        lock (this)
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
            lock (this)
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
        var chunk = Chunk(index);
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

        lock (this)
        {
            FailLocked();
            for (var i = 0; i < ChunkCount; i++)
            {
                if (Chunk(i).Length == ChunkSize)
                {
                    Pool.Return(Chunk(i));
                }

                SetChunk(i, []); // a released body holds nothing: its capacity is 0
            }
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
        if (_known || ChunkCount == 0)
        {
            return;
        }

        var last = Chunk(ChunkCount - 1);
        var used = (int)(_length - ((long)(ChunkCount - 1) * ChunkSize));
        if (used < last.Length)
        {
            SetChunk(ChunkCount - 1, last.AsSpan(0, used).ToArray());
            Pool.Return(last);
        }
    }

    /// <summary>The arrays holding bytes: every array is written as soon as it is taken, so those of the length received.</summary>
    private int ChunkCount => (int)((Length + ChunkSize - 1) / ChunkSize);

    /// <summary>An array filled already (or the empty one of a released body).</summary>
    private byte[] Chunk(int index) => index == 0 ? Volatile.Read(ref _first)! : Volatile.Read(ref _rest)![index - 1]!;

    /// <summary>Under the lock. A growing body's list doubles as it needs: no reader before completion.</summary>
    private void SetChunk(int index, byte[] chunk)
    {
        if (index == 0)
        {
            Volatile.Write(ref _first, chunk);
            return;
        }

        if (_rest is null || index > _rest.Length)
        {
            Array.Resize(ref _rest, Math.Max(4, (_rest?.Length ?? 0) * 2));
        }

        _rest[index - 1] = chunk;
    }
}
