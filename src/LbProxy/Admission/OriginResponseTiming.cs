using Yarp.ReverseProxy.Transforms;
using Yarp.ReverseProxy.Transforms.Builder;

namespace LbProxy.Admission;

/// <summary>
/// When an attempt on an adaptive cluster took its slot and when the origin's response headers arrived: the adaptive
/// limit learns from the time to the headers, the origin's own latency. The whole time the slot is held also counts
/// the body's transfer to the client, so a slow-reading client (a phone on a weak link fetching a large image) made
/// a healthy origin look slow and lowered its limit. Set by the admission stage per attempt; stamped by a response
/// transform on adaptive clusters' routes only.
/// </summary>
internal sealed class OriginResponseTiming(long started)
{
    private long _headersAt;

    public long Started { get; } = started;

    /// <summary>The time the slot was held until the origin's headers came, or until now when they never did (a failure).</summary>
    public TimeSpan Latency(TimeProvider time)
    {
        var headersAt = Volatile.Read(ref _headersAt);
        return headersAt != 0 ? time.GetElapsedTime(Started, headersAt) : time.GetElapsedTime(Started);
    }

    public void HeadersArrived(long timestamp) => Volatile.Write(ref _headersAt, timestamp);
}

/// <summary>The response transform that stamps <see cref="OriginResponseTiming"/>, on routes whose cluster has an adaptive limit.</summary>
internal sealed class OriginResponseTimingTransformProvider(AdmissionGates gates) : ITransformProvider
{
    public void ValidateRoute(TransformRouteValidationContext context)
    {
    }

    public void ValidateCluster(TransformClusterValidationContext context)
    {
    }

    public void Apply(TransformBuilderContext context)
    {
        // YARP builds a route's transforms again when its cluster's configuration changes: a cluster made adaptive by
        // a reload gets the transform then.
        if (AdmissionSettings.Parse(context.Cluster?.Metadata).Settings is not { Adaptive: true })
        {
            return;
        }

        var time = gates.Time;
        context.AddResponseTransform(response =>
        {
            response.HttpContext.Features.Get<OriginResponseTiming>()?.HeadersArrived(time.GetTimestamp());
            return ValueTask.CompletedTask;
        });
    }
}
