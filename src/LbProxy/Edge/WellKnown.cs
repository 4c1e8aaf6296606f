namespace LbProxy.Edge;

/// <summary>Paths that LbProxy answers itself, whatever the routes say.</summary>
internal static class WellKnownPaths
{
    /// <summary>The Prometheus scrape, in any spelling of the path.</summary>
    public const string Metrics = "/metrics";
}

/// <summary>Header names that the proxy sets, checks or strips, in more than one stage.</summary>
internal static class WellKnownHeaders
{
    public const string RequestId = "X-Request-Id";
    public const string ForwardedFor = "X-Forwarded-For";
    public const string ForwardedProto = "X-Forwarded-Proto";
    public const string ForwardedHost = "X-Forwarded-Host";
    public const string ForwardedPrefix = "X-Forwarded-Prefix";
    public const string Forwarded = "Forwarded";
    public const string RealIp = "X-Real-IP";
    public const string ContentLength = "Content-Length";
}

/// <summary>
/// The control prefix in canonical form (<c>LbProxy:Control:Prefix</c>, read once at start). The control-plane
/// split answers under it and the access-log filter skips it: one value, so the two cannot disagree.
/// </summary>
internal sealed record ControlPrefix(string Value)
{
    public static ControlPrefix From(string configured) => new(PathNormalizer.Normalize(configured));
}
