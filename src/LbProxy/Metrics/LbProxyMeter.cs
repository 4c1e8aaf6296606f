namespace LbProxy.Metrics;

/// <summary>
/// The names of the meters LbProxy exports. LbProxy's own instruments live on one meter, <see cref="Name"/>,
/// created through <c>IMeterFactory</c> by every stage that measures something (the factory hands each the same
/// <c>Meter</c>); the built-in meters are switched on rather than rewritten.
/// </summary>
internal static class LbProxyMeter
{
    public const string Name = "LbProxy";

    /// <summary>Timers, thread pool, GC, CPU and memory: the .NET equivalents of Go's runtime metrics.</summary>
    public const string Runtime = "System.Runtime";

    /// <summary><c>http.server.request.duration</c> and <c>http.server.active_requests</c>.</summary>
    public const string AspNetCoreHosting = "Microsoft.AspNetCore.Hosting";

    /// <summary><c>kestrel.active_connections</c>, connection durations, rejected and upgraded connections.</summary>
    public const string Kestrel = "Microsoft.AspNetCore.Server.Kestrel";

    /// <summary>Upstream requests and pooled connections of the forwarder and the active health probes.</summary>
    public const string HttpClient = "System.Net.Http";
}

/// <summary>
/// The tag names of LbProxy's instruments. Values are bounded: ids from the config, status codes, fixed outcome
/// names; never a path, a client address or a header.
/// </summary>
internal static class MetricTags
{
    public const string Route = "route";
    public const string Cluster = "cluster";
    public const string Destination = "destination";
    public const string StatusCode = "status_code";
    public const string Error = "error";
    public const string Outcome = "outcome";
    public const string Result = "result";
    public const string Format = "format";
    public const string Reason = "reason";
    public const string Sni = "sni";
    public const string Endpoint = "endpoint";
    public const string Resource = "resource";
    public const string Owner = "owner";
    public const string Version = "version";
    public const string Commit = "commit";
}
