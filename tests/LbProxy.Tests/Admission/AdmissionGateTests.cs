using LbProxy.Admission;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Time.Testing;
using Yarp.ReverseProxy.LoadBalancing;
using Yarp.ReverseProxy.Model;

namespace LbProxy.Tests.Admission;

/// <summary>The gate's decisions on its own: slots, hand-over by priority then arrival, leaving, the races.</summary>
public sealed class AdmissionGateTests
{
    private static readonly AdmissionSettings Settings = new(MaxPerDestination: 1, MaxQueue: 3, TimeSpan.FromSeconds(5), Adaptive: false, DegradeFormats: false);

    [Fact]
    public void FreeSlots_AreTaken_ThenRequestsQueue_ThenTheQueueIsFull()
    {
        var (gate, cluster, a, b) = Start();
        DestinationState[] both = [a, b];

        var first = Enter(gate, cluster, both);
        var second = Enter(gate, cluster, both);
        var queued = Enumerable.Range(0, 3).Select(_ => Enter(gate, cluster, both)).ToList();
        var full = Enter(gate, cluster, both);

        Assert.Equal(AdmissionKind.Admitted, first.Kind);
        Assert.Equal(AdmissionKind.Admitted, second.Kind);
        Assert.NotSame(first.Destination, second.Destination);
        Assert.All(queued, static q => Assert.Equal(AdmissionKind.Queued, q.Kind));
        Assert.Equal(AdmissionKind.QueueFull, full.Kind);
        Assert.Equal(3, gate.QueueLength);
    }

    [Fact]
    public void Release_HandsTheSlotToTheFirstWaiterByPriorityThenArrival_CountUnchanged()
    {
        var (gate, cluster, a, _) = Start();
        DestinationState[] onlyA = [a];
        Enter(gate, cluster, onlyA);
        var low1 = Enter(gate, cluster, onlyA, priority: 0).Waiter!;
        var low2 = Enter(gate, cluster, onlyA, priority: 0).Waiter!;
        var high = Enter(gate, cluster, onlyA, priority: 5).Waiter!;

        gate.Release(a, Settings, null, false, 0);
        Assert.Same(a, high.Granted);
        Assert.Null(low1.Granted);
        Assert.Equal(1, AdmissionGate.PeekSlots(a)!.InFlight);

        gate.Release(a, Settings, null, false, 0);
        Assert.Same(a, low1.Granted);
        Assert.Null(low2.Granted);
    }

    [Fact]
    public void Release_SkipsWaitersThatCannotUseTheDestination()
    {
        var (gate, cluster, a, b) = Start();
        Enter(gate, cluster, [a]);
        Enter(gate, cluster, [b]);
        var wantsB = Enter(gate, cluster, [b]).Waiter!;
        var wantsA = Enter(gate, cluster, [a]).Waiter!;

        gate.Release(a, Settings, null, false, 0);

        Assert.Same(a, wantsA.Granted);
        Assert.Null(wantsB.Granted);
        Assert.Equal(1, gate.QueueLength);
    }

    [Fact]
    public void Leave_OutOfTheQueue_OrTheSlotBackWhenItWasHandedOverFirst()
    {
        var (gate, cluster, a, _) = Start();
        Enter(gate, cluster, [a]);
        var gone = Enter(gate, cluster, [a]).Waiter!;
        var raced = Enter(gate, cluster, [a]).Waiter!;

        Assert.Null(gate.Leave(gone));
        Assert.Equal(1, gate.QueueLength);
        gate.Release(a, Settings, null, false, 0); // handed to 'raced' as its timeout fires
        Assert.Same(a, gate.Leave(raced));      // the lock decided: it has the slot, and must use or release it
        Assert.Equal(0, gate.QueueLength);
        Assert.Equal(1, AdmissionGate.PeekSlots(a)!.InFlight);

        gate.Release(a, Settings, null, false, 0);
        Assert.Equal(0, AdmissionGate.PeekSlots(a)!.InFlight);
    }

    [Fact]
    public void AHigherLimit_ServesWaitersBeforeANewArrival()
    {
        var (gate, cluster, a, _) = Start();
        Enter(gate, cluster, [a]);
        var waiter = Enter(gate, cluster, [a]).Waiter!;

        var raised = Settings with { MaxPerDestination = 2 };
        var arrival = gate.TryEnter(new DefaultHttpContext(), cluster, [a], raised, new FirstPolicy(), 0);

        Assert.Same(a, waiter.Granted);
        Assert.Equal(AdmissionKind.Queued, arrival.Kind);
    }

    [Fact]
    public void AdaptiveStandingQueue_NewWaitersWaitHalfAUsualRequest_ABurstIntoADrainingQueueWaitsTheQueueTimeout()
    {
        var time = new FakeTimeProvider();
        var gate = new AdmissionGate(time);
        var cluster = new ClusterState("c");
        var a = new DestinationState("a");
        var adaptive = new AdmissionSettings(MaxPerDestination: 1, MaxQueue: 10, TimeSpan.FromSeconds(2), Adaptive: true, DegradeFormats: false);
        var plain = adaptive with { Adaptive = false };
        // One window of requests that took 100 ms each: the destination's usual time.
        var limit = AdmissionGate.SlotsOf(a, 1, time).Adaptive;
        for (var i = 0; i < AdaptiveLimit.MinWindowSamples; i++)
        {
            time.Advance(AdaptiveLimit.MinWindow / AdaptiveLimit.MinWindowSamples);
            limit.Record(TimeSpan.FromMilliseconds(100), error: false, inFlight: 1);
        }

        Assert.Equal(0.1, limit.LongRtt, 3);
        Assert.Equal(AdmissionKind.Admitted, gate.TryEnter(new DefaultHttpContext(), cluster, [a], adaptive, new FirstPolicy(), 0).Kind);

        var first = gate.TryEnter(new DefaultHttpContext(), cluster, [a], adaptive, new FirstPolicy(), 0).Waiter!;
        time.Advance(TimeSpan.FromMilliseconds(150));
        var early = gate.TryEnter(new DefaultHttpContext(), cluster, [a], adaptive, new FirstPolicy(), 0).Waiter!;
        time.Advance(TimeSpan.FromMilliseconds(100));
        var standing = gate.TryEnter(new DefaultHttpContext(), cluster, [a], adaptive, new FirstPolicy(), 0).Waiter!;
        var notAdaptive = gate.TryEnter(new DefaultHttpContext(), cluster, [a], plain, new FirstPolicy(), 0).Waiter!;

        Assert.Equal(TimeSpan.FromSeconds(2), first.Timeout);    // the queue was empty: a burst may wait it out
        Assert.Equal(TimeSpan.FromSeconds(2), early.Timeout);    // non-empty for 150 ms, less than two usual requests
        Assert.Equal(50, standing.Timeout.TotalMilliseconds, 1); // 250 ms: standing; half a usual request
        Assert.Equal(TimeSpan.FromSeconds(2), notAdaptive.Timeout);

        // Drained: the next waiter starts a new queue and may wait the whole QueueTimeout again.
        foreach (var waiter in new[] { first, early, standing, notAdaptive })
        {
            gate.Leave(waiter);
        }

        time.Advance(TimeSpan.FromSeconds(1));
        var afterDrain = gate.TryEnter(new DefaultHttpContext(), cluster, [a], adaptive, new FirstPolicy(), 0).Waiter!;
        Assert.Equal(TimeSpan.FromSeconds(2), afterDrain.Timeout);
    }

    private static (AdmissionGate Gate, ClusterState Cluster, DestinationState A, DestinationState B) Start() =>
        (new AdmissionGate(TimeProvider.System), new ClusterState("c"), new DestinationState("a"), new DestinationState("b"));

    private static AdmissionDecision Enter(AdmissionGate gate, ClusterState cluster, IReadOnlyList<DestinationState> candidates, int priority = 0) =>
        gate.TryEnter(new DefaultHttpContext(), cluster, candidates, Settings, new FirstPolicy(), priority);

    private sealed class FirstPolicy : ILoadBalancingPolicy
    {
        public string Name => "First";

        public DestinationState? PickDestination(HttpContext context, ClusterState cluster, IReadOnlyList<DestinationState> availableDestinations) =>
            availableDestinations.Count > 0 ? availableDestinations[0] : null;
    }
}
