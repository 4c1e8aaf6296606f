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
/// and neither uses the other. It carries nothing, so every request shares one instance.
/// </remarks>
internal sealed class RetriesExhaustedFeature
{
    public static readonly RetriesExhaustedFeature Instance = new();

    private RetriesExhaustedFeature()
    {
    }
}
