using LbProxy.AccessLog;
using LbProxy.Configuration;

namespace LbProxy.Control;

/// <summary>The answer of <c>/_lb/status</c>.</summary>
internal sealed record StatusReport(
    string Version,
    DateTimeOffset StartedAt,
    double UptimeSeconds,
    bool Ready,
    bool Draining,
    ConfigStatus Config,
    IReadOnlyList<ClusterStatus> Clusters,
    AccessLogStatus AccessLog);
