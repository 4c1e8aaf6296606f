using System.Runtime.CompilerServices;
using Yarp.ReverseProxy.LoadBalancing;
using Yarp.ReverseProxy.Model;

namespace LbProxy.Admission;

/// <summary>The in-flight count and (when adaptive) the limit of one destination; changed only under its cluster's gate lock.</summary>
internal sealed class DestinationSlots(TimeProvider time, int ceiling)
{
    private int _inFlight;

    public int InFlight { get => Volatile.Read(ref _inFlight); set => Volatile.Write(ref _inFlight, value); }

    /// <summary>The adaptive limit, created the first time the cluster is adaptive.</summary>
    public AdaptiveLimit Adaptive { get; } = new(ceiling, time);

    /// <summary>The limit as metrics and status show it, read without the lock and without changing anything.</summary>
    public int LimitFor(AdmissionSettings settings) =>
        settings.Adaptive ? Math.Min(Adaptive.Limit, settings.MaxPerDestination) : settings.MaxPerDestination;

    /// <summary>The limit a decision uses, under the lock: a new ceiling from a reload is taken on here.</summary>
    public int LimitUnder(AdmissionSettings settings)
    {
        if (!settings.Adaptive)
        {
            return settings.MaxPerDestination;
        }

        if (Adaptive.Ceiling != settings.MaxPerDestination)
        {
            Adaptive.SetCeiling(settings.MaxPerDestination);
        }

        return Adaptive.Limit;
    }
}

/// <summary>
/// One cluster's slots and queue. Everything is decided under one lock per cluster: taking a slot, queueing, a
/// release handing its slot to the first waiter that can use it, a waiter leaving on timeout or disconnect. A slot
/// handed to a waiter is counted as in flight at once (transferred, never released in between), so a release and
/// a new arrival can never both take it. State is kept per <see cref="ClusterState"/> and
/// <see cref="DestinationState"/>, objects YARP keeps across reloads while their ids stay: a reload that keeps a
/// destination keeps its count, and the new settings apply from the next decision.
/// </summary>
internal sealed class AdmissionGate(TimeProvider time)
{
    private static readonly ConditionalWeakTable<DestinationState, DestinationSlots> Slots = new();

    private readonly Lock _lock = new();

    // Waiters by priority, highest first; each level first come, first served. Few levels: a list is enough.
    private readonly List<(int Priority, LinkedList<Waiter> Waiters)> _levels = [];
    private int _queueLength;
    private long _nonEmptySince;

    /// <summary>
    /// An adaptive cluster's queue that has not been empty for this many of its usual request times (the long-term
    /// RTT, at least <see cref="MinStandingAfter"/>) is standing: it no longer absorbs a burst, it only adds waiting.
    /// </summary>
    internal const double StandingAfterRtts = 2;

    internal static readonly TimeSpan MinStandingAfter = TimeSpan.FromMilliseconds(100);

    public int QueueLength => Volatile.Read(ref _queueLength);

    /// <summary>The destination's slots, made on first use (no allocation after).</summary>
    public static DestinationSlots SlotsOf(DestinationState destination, int ceiling, TimeProvider time) =>
        Slots.TryGetValue(destination, out var slots) ? slots : AddSlots(destination, ceiling, time);

    // Apart, so that the closure is allocated only the first time (a captured parameter allocates at method entry).
    private static DestinationSlots AddSlots(DestinationState destination, int ceiling, TimeProvider time) =>
        Slots.GetValue(destination, _ => new DestinationSlots(time, ceiling));

    /// <summary>The destination's slots if it ever had any, for metrics and status.</summary>
    public static DestinationSlots? PeekSlots(DestinationState destination) => Slots.TryGetValue(destination, out var slots) ? slots : null;

    /// <summary>
    /// Takes a slot on a free candidate, picked by the cluster's policy, or queues a waiter, or says the queue is full.
    /// </summary>
    public AdmissionDecision TryEnter(
        HttpContext context,
        ClusterState cluster,
        IReadOnlyList<DestinationState> candidates,
        AdmissionSettings settings,
        ILoadBalancingPolicy policy,
        int priority)
    {
        lock (_lock)
        {
            if (_queueLength > 0)
            {
                // A free slot beside a queue happens only when limits rose (reload, adaptive growth): the waiters
                // that can use it go first, then this request may take what is left.
                HandFreeSlots(candidates, settings);
            }

            var free = FreeAmong(candidates, settings);
            if (free is not null)
            {
                var picked = free.Count == 1 ? free[0] : policy.PickDestination(context, cluster, free);
                if (picked is null)
                {
                    return new AdmissionDecision(AdmissionKind.Unpicked, null, null); // the policy picks none (weights of 0): as YARP would
                }

                SlotsOf(picked, settings.MaxPerDestination, time).InFlight++;
                return new AdmissionDecision(AdmissionKind.Admitted, picked, null);
            }

            if (_queueLength >= settings.MaxQueue)
            {
                return new AdmissionDecision(AdmissionKind.QueueFull, null, null);
            }

            var waiter = new Waiter(candidates, priority, WaitBound(candidates, settings));
            Enqueue(waiter);
            return new AdmissionDecision(AdmissionKind.Queued, null, waiter);
        }
    }

    /// <summary>
    /// A waiter that timed out or whose client left: out of the queue, unless a slot was handed to it first (then
    /// the slot is returned).
    /// </summary>
    public DestinationState? Leave(Waiter waiter)
    {
        lock (_lock)
        {
            if (waiter.Granted is { } granted)
            {
                return granted;
            }

            waiter.Node.List!.Remove(waiter.Node);
            Dequeued();
            waiter.Left = true;
            return null;
        }
    }

    /// <summary>
    /// A request on <paramref name="destination"/> is done: its slot goes to the first waiter (by priority, then
    /// arrival) that can use this destination, else the count goes down. For an adaptive cluster the request's
    /// time and outcome feed the limit first.
    /// </summary>
    public void Release(DestinationState destination, AdmissionSettings settings, TimeSpan? rtt, bool error, int inFlightAtStart)
    {
        lock (_lock)
        {
            var slots = SlotsOf(destination, settings.MaxPerDestination, time);
            if (settings.Adaptive && rtt is { } sample)
            {
                slots.LimitUnder(settings);
                slots.Adaptive.Record(sample, error, inFlightAtStart);
            }

            slots.InFlight--;
            HandOver(destination, slots, settings);
        }
    }

    private void Dequeued()
    {
        if (--_queueLength == 0)
        {
            _nonEmptySince = 0;
        }
    }

    /// <summary>
    /// How long a new waiter may wait: the cluster's QueueTimeout, or, in an adaptive cluster whose queue is standing,
    /// half the usual time of one request (the longest long-term RTT among the candidates), as CoDel bounds the
    /// sojourn of a queue that never drains. Measured without it: with both origins slowed to a quarter and 4x their
    /// capacity offered, every served request had waited in a full queue (16 waiters, 2 s), and the served p99 stayed
    /// above twice the unloaded one for the rest of the run. A burst into a queue that drains keeps the whole QueueTimeout.
    /// </summary>
    private TimeSpan WaitBound(IReadOnlyList<DestinationState> candidates, AdmissionSettings settings)
    {
        if (!settings.Adaptive || _queueLength == 0)
        {
            return settings.QueueTimeout;
        }

        var usual = 0.0;
        for (var i = 0; i < candidates.Count; i++)
        {
            usual = Math.Max(usual, SlotsOf(candidates[i], settings.MaxPerDestination, time).Adaptive.LongRtt);
        }

        if (usual <= 0)
        {
            return settings.QueueTimeout;
        }

        var standingAfter = Math.Max(StandingAfterRtts * usual, MinStandingAfter.TotalSeconds);
        if (time.GetElapsedTime(_nonEmptySince).TotalSeconds < standingAfter)
        {
            return settings.QueueTimeout;
        }

        var bound = TimeSpan.FromSeconds(usual / 2);
        return bound < settings.QueueTimeout ? bound : settings.QueueTimeout;
    }

    private void HandFreeSlots(IReadOnlyList<DestinationState> candidates, AdmissionSettings settings)
    {
        for (var i = 0; i < candidates.Count && _queueLength > 0; i++)
        {
            HandOver(candidates[i], SlotsOf(candidates[i], settings.MaxPerDestination, time), settings);
        }
    }

    private void HandOver(DestinationState destination, DestinationSlots slots, AdmissionSettings settings)
    {
        while (_queueLength > 0 && slots.InFlight < slots.LimitUnder(settings) && FirstWaiterFor(destination) is { } waiter)
        {
            waiter.Node.List!.Remove(waiter.Node);
            Dequeued();
            slots.InFlight++;
            waiter.Granted = destination;
            waiter.Completion.TrySetResult(destination);
        }
    }

    private Waiter? FirstWaiterFor(DestinationState destination)
    {
        foreach (var (_, waiters) in _levels)
        {
            for (var node = waiters.First; node is not null; node = node.Next)
            {
                if (Contains(node.Value.Candidates, destination))
                {
                    return node.Value;
                }
            }
        }

        return null;
    }

    private List<DestinationState>? FreeAmong(IReadOnlyList<DestinationState> candidates, AdmissionSettings settings)
    {
        List<DestinationState>? free = null;
        for (var i = 0; i < candidates.Count; i++)
        {
            var slots = SlotsOf(candidates[i], settings.MaxPerDestination, time);
            if (slots.InFlight < slots.LimitUnder(settings))
            {
                (free ??= new List<DestinationState>(candidates.Count)).Add(candidates[i]);
            }
        }

        return free;
    }

    private void Enqueue(Waiter waiter)
    {
        var index = 0;
        while (index < _levels.Count && _levels[index].Priority > waiter.Priority)
        {
            index++;
        }

        if (index == _levels.Count || _levels[index].Priority != waiter.Priority)
        {
            _levels.Insert(index, (waiter.Priority, new LinkedList<Waiter>()));
        }

        waiter.Node = _levels[index].Waiters.AddLast(waiter);
        if (_queueLength++ == 0)
        {
            _nonEmptySince = time.GetTimestamp();
        }
    }

    private static bool Contains(IReadOnlyList<DestinationState> candidates, DestinationState destination)
    {
        for (var i = 0; i < candidates.Count; i++)
        {
            if (ReferenceEquals(candidates[i], destination))
            {
                return true;
            }
        }

        return false;
    }
}

/// <summary>What <see cref="AdmissionGate.TryEnter"/> decided: a destination now, a waiter, or neither (the queue is full).</summary>
internal readonly record struct AdmissionDecision(AdmissionKind Kind, DestinationState? Destination, Waiter? Waiter);

internal enum AdmissionKind
{
    /// <summary>A slot on <see cref="AdmissionDecision.Destination"/> is taken.</summary>
    Admitted,

    /// <summary>Waiting in the queue: <see cref="AdmissionDecision.Waiter"/>.</summary>
    Queued,

    /// <summary>No slot and no room in the queue: shed.</summary>
    QueueFull,

    /// <summary>A free destination exists but the cluster's policy picked none: no slot taken, YARP decides.</summary>
    Unpicked,
}

/// <summary>A request waiting for a slot; its fields change only under the gate's lock.</summary>
internal sealed class Waiter(IReadOnlyList<DestinationState> candidates, int priority, TimeSpan timeout)
{
    public IReadOnlyList<DestinationState> Candidates { get; } = candidates;

    public int Priority { get; } = priority;

    /// <summary>How long it may wait: the QueueTimeout, or less in an adaptive cluster's standing queue.</summary>
    public TimeSpan Timeout { get; } = timeout;

    public TaskCompletionSource<DestinationState> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public LinkedListNode<Waiter> Node { get; set; } = null!;

    /// <summary>The destination whose slot was handed over (already counted as in flight).</summary>
    public DestinationState? Granted { get; set; }

    public bool Left { get; set; }
}
