namespace LbProxy.Admission;

/// <summary>
/// Why a request was answered without being forwarded, as <c>lbproxy_shed_requests_total{reason}</c> and the access
/// log's <c>{shed}</c> name it. <see cref="RateLimited"/> is the rate-limiting stage's, <see cref="ClusterCapacity"/> the
/// edge's own cap on a cluster's requests in flight (<see cref="ClusterCapacityMiddleware"/>); the others are this stage's.
/// </summary>
internal static class ShedReasons
{
    public const string QueueFull = "queue_full";
    public const string QueueTimeout = "queue_timeout";
    public const string ClientGone = "client_gone";
    public const string RateLimited = "rate_limited";
    public const string ClusterCapacity = "cluster_capacity";
}

/// <summary>Set on a request that was shed, so that the access log can say why (<c>{shed}</c>).</summary>
internal interface IShedFeature
{
    string Reason { get; }
}

/// <summary>One shared instance per reason: shedding allocates no feature.</summary>
internal sealed class ShedFeature : IShedFeature
{
    public static readonly ShedFeature QueueFull = new(ShedReasons.QueueFull);
    public static readonly ShedFeature QueueTimeout = new(ShedReasons.QueueTimeout);
    public static readonly ShedFeature ClientGone = new(ShedReasons.ClientGone);
    public static readonly ShedFeature RateLimited = new(ShedReasons.RateLimited);
    public static readonly ShedFeature CapacityTimeout = new(ShedReasons.ClusterCapacity);

    private ShedFeature(string reason) => Reason = reason;

    public string Reason { get; }
}
