using LbProxy.Admission;
using LbProxy.Forwarding;

namespace LbProxy.Tests.Admission;

public sealed class FairShareGateTests
{
    [Fact]
    public void BelowTheCap_EveryoneEntersAtOnce()
    {
        var gate = new FairShareGate();

        Assert.Null(gate.Enter("a", 2).Waiter);
        Assert.Null(gate.Enter("a", 2).Waiter);
        Assert.NotNull(gate.Enter("b", 2).Waiter);
        Assert.Equal(2, gate.InFlight);
        Assert.Equal(1, gate.Waiting);
    }

    [Fact]
    public void ASharePutBackAndTakenByAnotherConnection_CarriesNothingOver()
    {
        // Over HTTP/1.1 each request's share is put back when it ends and reused for the next connection's.
        var gate = new FairShareGate();
        var (first, _) = gate.Enter("first", 1);
        gate.Release(first, 1);
        var (flood, _) = gate.Enter("flood", 1); // the share "first" had
        var floodWaiter = gate.Enter("flood", 1).Waiter!;
        var (good, goodWaiter) = gate.Enter("good", 1);

        Assert.Same(first, flood);
        Assert.Equal("flood", flood.Connection);
        gate.Release(flood, 1);
        Assert.True(goodWaiter!.Completion.Task.IsCompleted); // "good" holds none: it goes first
        Assert.False(floodWaiter.Completion.Task.IsCompleted);
        gate.Release(good, 1);
        Assert.True(floodWaiter.Completion.Task.IsCompleted);
        gate.Release(floodWaiter.Share, 1);
        Assert.Equal(0, gate.InFlight);
        Assert.Equal(0, gate.Waiting);
    }

    [Fact]
    public void FreedSlot_GoesToTheConnectionHoldingFewest_NotTheFirstToWait()
    {
        // A flooding connection holds the only slot and queues nine more; a well-behaved one then asks once.
        var gate = new FairShareGate();
        var (flood, _) = gate.Enter("flood", 1);
        var floodWaiters = Enumerable.Range(0, 9).Select(_ => gate.Enter("flood", 1).Waiter!).ToList();
        var (_, good) = gate.Enter("good", 1);

        gate.Release(flood, 1);

        Assert.True(good!.Completion.Task.IsCompleted);
        Assert.All(floodWaiters, w => Assert.False(w.Completion.Task.IsCompleted));
    }

    [Fact]
    public void AmongEquals_TurnsAlternate()
    {
        var gate = new FairShareGate();
        var (holder, _) = gate.Enter("holder", 1);
        var a1 = gate.Enter("a", 1).Waiter!;
        var a2 = gate.Enter("a", 1).Waiter!;
        var (b, b1) = gate.Enter("b", 1);

        gate.Release(holder, 1);
        Assert.True(a1.Completion.Task.IsCompleted); // "a" came first
        gate.Release(a1.Share, 1);

        Assert.True(b1!.Completion.Task.IsCompleted); // then "b", holding none, before a's second
        Assert.False(a2.Completion.Task.IsCompleted);
        gate.Release(b, 1);
        Assert.True(a2.Completion.Task.IsCompleted);
        Assert.Equal(0, gate.Waiting);
    }

    [Fact]
    public void Leave_BeforeTheGrant_FreesItsPlace_AfterTheGrant_KeepsTheSlot()
    {
        var gate = new FairShareGate();
        var (holder, _) = gate.Enter("holder", 1);
        var gone = gate.Enter("gone", 1).Waiter!;
        var next = gate.Enter("next", 1).Waiter!;

        Assert.True(gate.Leave(gone));
        gate.Release(holder, 1);

        Assert.False(gone.Completion.Task.IsCompleted);
        Assert.True(next.Completion.Task.IsCompleted);
        Assert.False(gate.Leave(next)); // granted: the caller holds the slot
        Assert.Equal(1, gate.InFlight);
        gate.Release(next.Share, 1);
        Assert.Equal(0, gate.InFlight);
    }

    [Theory]
    [InlineData(512, 0, 2, 1024)]     // the default: 512 per destination
    [InlineData(512, 64, 2, 126)]     // a low descriptor limit: one below each destination's connection cap
    [InlineData(512, 0, 0, 512)]      // counted as one destination at least
    [InlineData(0, 0, 2, 0)]          // off
    public void Capacity_PerDestination_BelowTheConnectionCap(int perDestination, int connections, int destinations, int expected)
    {
        var options = new ForwardingOptions { MaxRequestsPerDestination = perDestination, MaxConnectionsPerDestination = connections };

        Assert.Equal(expected, ClusterCapacityGates.Capacity(options, destinations));
    }
}
