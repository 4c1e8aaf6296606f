namespace LbProxy.Admission;

/// <summary>
/// A cluster's cap on proxied requests in flight, shared fairly between client connections: when a slot frees it goes
/// to a waiter of the connection that holds the fewest slots now (among equals, the one that has waited longest for its
/// turn). A thousand flooding connections, each holding a slot or more, then cost a well-behaved client that holds none
/// one release at most, where a single first-come queue put each of its requests behind every flooding stream. Over
/// HTTP/1.1 a connection has one request at a time, and this is a first-come queue. All under one lock: a few list
/// operations per request, none below the cap with nobody waiting.
/// </summary>
internal sealed class FairShareGate
{
    /// <summary>Connections holding this many slots or more share the last bucket (Kestrel's default allows 100 streams).</summary>
    private const int Buckets = 128;

    /// <summary>Shares kept for reuse: over HTTP/1.1 a connection's share is dropped after each of its requests.</summary>
    private const int SparesKept = 256;

    private readonly Lock _lock = new();
    private readonly Dictionary<string, ConnectionShare> _byConnection = new(StringComparer.Ordinal);
    private readonly Stack<ConnectionShare> _spares = new();

    /// <summary>Connections with waiters, by the slots they hold; within one, in the order they came to it.</summary>
    private readonly LinkedList<ConnectionShare>[] _waitingByHeld = new LinkedList<ConnectionShare>[Buckets];
    private int _inFlight;
    private int _waiting;

    public FairShareGate()
    {
        for (var i = 0; i < Buckets; i++)
        {
            _waitingByHeld[i] = new LinkedList<ConnectionShare>();
        }
    }

    /// <summary>Requests holding a slot.</summary>
    public int InFlight => Volatile.Read(ref _inFlight);

    /// <summary>Requests waiting for one.</summary>
    public int Waiting => Volatile.Read(ref _waiting);

    /// <summary>
    /// The connection's share, and null when a slot was taken at once, or the waiter that a <see cref="Release"/> will
    /// grant one. The share is what <see cref="Release"/> is given back when the request ends.
    /// </summary>
    public (ConnectionShare Share, FairShareWaiter? Waiter) Enter(string connection, int capacity)
    {
        lock (_lock)
        {
            if (!_byConnection.TryGetValue(connection, out var share))
            {
                share = _spares.TryPop(out var spare) ? spare : new ConnectionShare();
                share.Connection = connection;
                _byConnection.Add(connection, share);
            }

            if (_waiting == 0 && _inFlight < capacity)
            {
                _inFlight++;
                share.Held++;
                return (share, null);
            }

            var waiter = new FairShareWaiter(share);
            waiter.Node = (share.Waiters ??= new LinkedList<FairShareWaiter>()).AddLast(waiter);
            _waiting++;
            if (share.Turn is null)
            {
                share.Turn = _waitingByHeld[BucketOf(share)].AddLast(share);
            }

            return (share, waiter);
        }
    }

    /// <summary>Gives a slot of <paramref name="share"/> back; freed slots go to the waiters of the connections holding fewest.</summary>
    public void Release(ConnectionShare share, int capacity)
    {
        lock (_lock)
        {
            _inFlight--;
            share.Held--;
            if (share.Turn is not null)
            {
                MoveTo(share, BucketOf(share));
            }

            Forget(share);
            while (_inFlight < capacity && Next() is { } waiter)
            {
                _inFlight++;
                waiter.Granted = true;
                waiter.Completion.TrySetResult(); // continuations run asynchronously: nothing runs under the lock
            }
        }
    }

    /// <summary>
    /// Takes a waiter out (its time is up, or its client left): true, or false when a slot was granted to it first,
    /// which the caller now holds and must use or release.
    /// </summary>
    public bool Leave(FairShareWaiter waiter)
    {
        lock (_lock)
        {
            if (waiter.Granted)
            {
                return false;
            }

            var share = waiter.Share;
            share.Waiters!.Remove(waiter.Node!);
            _waiting--;
            if (share.Waiters.Count == 0 && share.Turn is { } turn)
            {
                turn.List!.Remove(turn);
                share.Turn = null;
            }

            Forget(share);
            return true;
        }
    }

    /// <summary>The oldest waiter of the connection holding fewest slots, which then holds one more.</summary>
    private FairShareWaiter? Next()
    {
        if (_waiting == 0)
        {
            return null;
        }

        foreach (var bucket in _waitingByHeld)
        {
            if (bucket.First is not { } turn)
            {
                continue;
            }

            var share = turn.Value;
            var waiter = share.Waiters!.First!.Value;
            share.Waiters.RemoveFirst();
            _waiting--;
            share.Held++;
            if (share.Waiters.Count == 0)
            {
                bucket.Remove(turn);
                share.Turn = null;
            }
            else
            {
                MoveTo(share, BucketOf(share));
            }

            return waiter;
        }

        return null;
    }

    private void MoveTo(ConnectionShare share, int bucket)
    {
        var turn = share.Turn!;
        if (turn.List == _waitingByHeld[bucket])
        {
            return;
        }

        turn.List!.Remove(turn);
        _waitingByHeld[bucket].AddLast(turn);
    }

    /// <summary>A connection that holds nothing and waits for nothing is not kept.</summary>
    private void Forget(ConnectionShare share)
    {
        if (share.Held == 0 && (share.Waiters is null || share.Waiters.Count == 0))
        {
            _byConnection.Remove(share.Connection);
            if (_spares.Count < SparesKept)
            {
                _spares.Push(share); // its waiter list, empty, goes with it
            }
        }
    }

    private static int BucketOf(ConnectionShare share) => Math.Min(share.Held, Buckets - 1);
}

/// <summary>One client connection's slots held and requests waiting at a <see cref="FairShareGate"/>.</summary>
internal sealed class ConnectionShare
{
    /// <summary>The client connection's id; a share is reused for another connection once it holds and waits for nothing.</summary>
    public string Connection { get; internal set; } = string.Empty;

    internal int Held { get; set; }

    /// <summary>Made at the first wait: most connections never wait.</summary>
    internal LinkedList<FairShareWaiter>? Waiters { get; set; }

    /// <summary>Its place among the connections with waiters; null when it has none.</summary>
    internal LinkedListNode<ConnectionShare>? Turn { get; set; }
}

/// <summary>A request waiting for a slot of a <see cref="FairShareGate"/>.</summary>
internal sealed class FairShareWaiter
{
    internal FairShareWaiter(ConnectionShare share) => Share = share;

    public TaskCompletionSource Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    internal ConnectionShare Share { get; }

    internal LinkedListNode<FairShareWaiter>? Node { get; set; }

    internal bool Granted { get; set; }
}
