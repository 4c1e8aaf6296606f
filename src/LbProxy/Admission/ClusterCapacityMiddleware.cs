using LbProxy.Edge;
using LbProxy.Forwarding;
using Microsoft.Extensions.Options;

namespace LbProxy.Admission;

/// <summary>
/// The edge's own bound on a cluster's proxied requests in flight (<see cref="ForwardingOptions.MaxRequestsPerDestination"/>
/// for each available destination, below a destination's connection cap): past it a request waits, the connections
/// holding fewest slots served first (<see cref="FairShareGate"/>), at most <see cref="ForwardingOptions.CapacityQueueTimeout"/>, then gets a 503
/// with <c>Retry-After</c>, counted as shed (<c>cluster_capacity</c>), never forwarded. Without it an HTTP/2 connection
/// flood (1,000 connections × 10 streams) put 10,000 requests in flight: each destination's connection pool opened
/// thousands of connections (an origin under <c>ulimit -n 1024</c> ran out of descriptors and died), or, capped, queued
/// them first come first served with the health probes behind them, and a well-behaved client's request waited behind
/// every flooding stream. A request holds its slot through its retries and its response body, as it holds a connection.
/// Cache hits never take one: this runs after the response cache and before the retry stage.
/// </summary>
internal sealed class ClusterCapacityMiddleware(
    RequestDelegate next,
    IOptionsMonitor<ForwardingOptions> options,
    ClusterCapacityGates gates,
    AdmissionMetrics metrics)
{
    public Task Invoke(HttpContext context)
    {
        var proxy = context.GetReverseProxyFeature();
        var capacity = gates.CapacityFor(proxy.AvailableDestinations.Count);
        if (capacity <= 0 || proxy.Route.Cluster is not { } cluster)
        {
            return next(context);
        }

        var gate = gates.For(cluster);
        // A request made without a client connection (a context built in-process) shares one turn.
        var (share, waiter) = gate.Enter(context.Connection.Id ?? string.Empty, capacity);
        if (waiter is not null)
        {
            return WaitThenForwardAsync(context, gate, share, waiter, capacity, cluster.ClusterId);
        }

        if (ProxyRequestEnd.IsRun(context))
        {
            // The proxy pipeline's first stage gives the slot back when the request ends: no async frame here.
            CapacitySlot.Hold(context, gate, share, capacity);
            return next(context);
        }

        return ForwardAsync(context, gate, share, capacity);
    }

    private async Task ForwardAsync(HttpContext context, FairShareGate gate, ConnectionShare share, int capacity)
    {
        try
        {
            await next(context);
        }
        finally
        {
            gate.Release(share, capacity);
        }
    }

    private async Task WaitThenForwardAsync(HttpContext context, FairShareGate gate, ConnectionShare share, FairShareWaiter waiter, int capacity, string clusterId)
    {
        try
        {
            await waiter.Completion.Task.WaitAsync(options.CurrentValue.CapacityQueueTimeout, context.RequestAborted);
        }
        catch (TimeoutException) when (gate.Leave(waiter))
        {
            await ShedAsync(context, ShedFeature.CapacityTimeout, clusterId);
            return;
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            if (!gate.Leave(waiter))
            {
                gate.Release(share, capacity); // granted as the client left: the next waiter has it
            }

            await ShedAsync(context, ShedFeature.ClientGone, clusterId);
            return;
        }
        catch (TimeoutException)
        {
            // Granted just as the time ran out: within the wait, so it goes.
        }

        await ForwardAsync(context, gate, share, capacity);
    }

    private Task ShedAsync(HttpContext context, ShedFeature shed, string clusterId) =>
        ShedAnswer.WriteAsync(context, metrics, shed, clusterId, retryAfterSeconds: 1,
            $"503 cluster '{clusterId}' is at the proxy's request capacity: waited too long for a turn\n");
}

/// <summary>A slot of a <see cref="FairShareGate"/> held by a request, given back when the request ends; one per Kestrel request object, reused.</summary>
internal sealed class CapacitySlot : ServerRequestScoped<CapacitySlot>, IProxyRequestEndAction
{
    private FairShareGate? _gate;
    private ConnectionShare? _share;
    private int _capacity;

    public static void Hold(HttpContext context, FairShareGate gate, ConnectionShare share, int capacity)
    {
        var slot = Rent(context.Features);
        slot._gate = gate;
        slot._share = share;
        slot._capacity = capacity;
        ProxyRequestEnd.Leave(context, slot);
    }

    public void RequestEnded(HttpContext context)
    {
        var (gate, share, capacity) = (_gate!, _share!, _capacity);
        _gate = null;
        _share = null;
        Return();
        gate.Release(share, capacity);
    }
}
