namespace LbProxy.Diagnostics;

/// <summary>
/// The last <see cref="Capacity"/> samples, struct-of-arrays, allocated once at start: a sample costs no
/// allocation. One writer (the sampler's tick); readers (the live page) copy rows under the lock and write them
/// out after releasing it. Rows are addressed by a sequence number that starts at 1 and only grows.
/// </summary>
internal sealed class SampleRing
{
    private readonly Lock _lock = new();
    private long _newest;

    public SampleRing(int capacity)
    {
        Capacity = capacity;
        Seconds = new double[capacity];
        UnixMs = new long[capacity];
        Completed = new long[capacity];
        Generation = new long[capacity];
        Timers = new long[capacity];
        Threads = new long[capacity];
        Queue = new long[capacity];
        Connections = new long[capacity];
        ConnectionsOpened = new long[capacity];
        ClientConnections = new long[capacity];
        UpstreamConnections = new long[capacity];
        WorkingSet = new long[capacity];
        GcHeap = new long[capacity];
        InFlight = new int[capacity];
        InFlightPeak = new int[capacity];
        Cpu = new float[capacity];
        CpuSeconds = new double[capacity];
        Allocated = new long[capacity];
        JitSeconds = new double[capacity];
        AllocRate = new float[capacity];
        P50Ms = new float[capacity];
        P99Ms = new float[capacity];
        Rps = new float[capacity * 6];
    }

    public int Capacity { get; }

    /// <summary>Seconds since the sampler started, from the monotonic clock: what the watchdog's windows use.</summary>
    public double[] Seconds { get; }

    public long[] UnixMs { get; }

    /// <summary>Proxied requests completed since start.</summary>
    public long[] Completed { get; }

    public long[] Generation { get; }

    public long[] Timers { get; }

    public long[] Threads { get; }

    public long[] Queue { get; }

    /// <summary>Client plus upstream connections open, and opened since start.</summary>
    public long[] Connections { get; }

    public long[] ConnectionsOpened { get; }

    public long[] ClientConnections { get; }

    public long[] UpstreamConnections { get; }

    public long[] WorkingSet { get; }

    public long[] GcHeap { get; }

    public int[] InFlight { get; }

    /// <summary>The peak of proxied requests in flight since the previous sample.</summary>
    public int[] InFlightPeak { get; }

    public float[] Cpu { get; }

    /// <summary>CPU time of the process since it started, in seconds, and bytes allocated since start: the cost per request's sums.</summary>
    public double[] CpuSeconds { get; }

    public long[] Allocated { get; }

    /// <summary>Time spent compiling by the JIT since start, all threads: taken out of the CPU per request (start-up and tier-up are not a leak).</summary>
    public double[] JitSeconds { get; }

    public float[] AllocRate { get; }

    public float[] P50Ms { get; }

    public float[] P99Ms { get; }

    /// <summary>Requests per second by status class: <c>[row * 6 + class]</c>, class 0 for anything not 1xx–5xx.</summary>
    public float[] Rps { get; }

    /// <summary>Sequence number of the newest row; 0 before the first.</summary>
    public long Newest => Volatile.Read(ref _newest);

    public long Oldest => Math.Max(1, Newest - Capacity + 1);

    public int Row(long seq) => (int)((seq - 1) % Capacity);

    /// <summary>The value of <paramref name="column"/> in the row of <paramref name="seq"/>.</summary>
    public long At(long[] column, long seq) => column[Row(seq)];

    /// <summary>Starts writing the next row and returns its index; <see cref="EndWrite"/> publishes it.</summary>
    public int BeginWrite()
    {
        _lock.Enter();
        return Row(_newest + 1);
    }

    public void EndWrite()
    {
        Volatile.Write(ref _newest, _newest + 1);
        _lock.Exit();
    }

    public Lock.Scope Read() => _lock.EnterScope();
}
