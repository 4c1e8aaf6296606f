namespace LbProxy.Forwarding;

/// <summary>
/// Marks a proxied request whose every destination was tried, each failing before it answered: no destination is
/// left that could. Set by the retry stage (<c>LoadBalancing/RetryMiddleware</c>) when it gives up for that reason;
/// read by the no-healthy-destination answer (<c>Health/NoHealthyDestinationMiddleware</c>), which then answers the
/// cluster's 503 with <c>Retry-After</c>, as when YARP found none available, rather than a bare 502.
/// </summary>
/// <remarks>
/// Here, beside the other outcomes of a forward that stages on both sides of YARP's forwarder read
/// (<see cref="UpstreamFailure"/>, <see cref="AttemptLogFeature"/>): LoadBalancing and Health both use Forwarding
/// and neither uses the other. It carries one flag, so every request shares one of two instances.
/// </remarks>
internal sealed class RetriesExhaustedFeature
{
    public static readonly RetriesExhaustedFeature Instance = new(atCapacity: false);

    /// <summary>Given up because this machine could not connect (descriptors, ports, the upstream connection cap).</summary>
    public static readonly RetriesExhaustedFeature AtCapacity = new(atCapacity: true);

    private RetriesExhaustedFeature(bool atCapacity) => IsAtCapacity = atCapacity;

    /// <summary>True when the proxy, not the destinations, was out of connections: the 503 says so.</summary>
    public bool IsAtCapacity { get; }
}
