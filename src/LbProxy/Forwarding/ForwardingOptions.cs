using System.ComponentModel.DataAnnotations;
using LbProxy.Configuration;
using Microsoft.Extensions.Options;

namespace LbProxy.Forwarding;

/// <summary>
/// Edge-sized defaults for the upstream side. YARP's own defaults suit a service mesh more than an
/// edge: a 15 s connect timeout and 100 s activity timeout hold client connections on a dead origin
/// for too long, and pooled connections without a lifetime never see a DNS change.
/// </summary>
internal sealed class ForwardingOptions
{
    public const string SectionName = "LbProxy:Forwarding";

    /// <summary>Time to open a TCP connection to a destination; a dead origin fails fast.</summary>
    [TimeSpanRange("00:00:00.100", "00:01:00")]
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(3);

    /// <summary>
    /// Longest silence from an origin once a request is sent (YARP's <c>ActivityTimeout</c>) for clusters
    /// that do not set their own in <c>HttpRequest.ActivityTimeout</c>. Long enough for an origin that
    /// encodes an AVIF on the fly, well under YARP's 100 s.
    /// </summary>
    [TimeSpanRange("00:00:01", "00:10:00")]
    public TimeSpan ActivityTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How long an idle pooled connection is kept. Below the 5 s keep-alive of Node.js and Apache (and far
    /// below nginx's 75 s), so the proxy closes idle connections before the origin does and never sends a
    /// request on a connection the origin is closing.
    /// </summary>
    [TimeSpanRange("00:00:00.500", "00:10:00")]
    public TimeSpan PooledConnectionIdleTimeout { get; set; } = TimeSpan.FromSeconds(4);

    /// <summary>Longest life of a pooled connection, so that DNS changes are picked up.</summary>
    [TimeSpanRange("00:00:10", "01:00:00")]
    public TimeSpan PooledConnectionLifetime { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// Upstream connections of the forwarder, every destination together; 0 (the default) means half of what the
    /// file-descriptor limit leaves for connections (the other half is the client side's). A new connection past
    /// the cap waits up to <see cref="UpstreamConnections.SlotWait"/> for one to close, then fails as a failure of
    /// this machine: the client gets a 503 and no destination is marked down for it.
    /// </summary>
    [Range(0, 1_000_000)]
    public int MaxConnections { get; set; }

    /// <summary>
    /// Connections to one destination (<c>SocketsHttpHandler.MaxConnectionsPerServer</c>); 0 (the default) means
    /// <see cref="MaxConnections"/>. Requests past it wait in the client's queue for a connection of that destination
    /// (as long as the activity timeout), so set it below <see cref="MaxConnections"/> only with care. It bounds sockets,
    /// not the load an origin takes: one connection carries one request at a time, but it is not a concurrency limit.
    /// </summary>
    [Range(0, 1_000_000)]
    public int MaxConnectionsPerDestination { get; set; }

    /// <summary>
    /// Proxied requests in flight per available destination of a cluster, enforced for the cluster as a whole (so 1,024
    /// for two destinations), held from before the first attempt to the end of the response; never more than one below
    /// <see cref="MaxConnectionsPerDestination"/> each, so that a destination's pool keeps a connection for its health
    /// probe. Past it a request waits, the client connections that hold fewest slots first, up to
    /// <see cref="CapacityQueueTimeout"/>, then gets a 503; 0 turns the cap off. It bounds what a flood can put on the
    /// origins; an origin's own concurrency limit is the admission stage's <c>Concurrency.MaxPerDestination</c>.
    /// </summary>
    [Range(0, 1_000_000)]
    public int MaxRequestsPerDestination { get; set; } = 512;

    /// <summary>How long a request past <see cref="MaxRequestsPerDestination"/> waits for its turn before its 503.</summary>
    [TimeSpanRange("00:00:00.100", "00:01:00")]
    public TimeSpan CapacityQueueTimeout { get; set; } = TimeSpan.FromSeconds(5);
}

[OptionsValidator]
internal sealed partial class ForwardingOptionsValidator : IValidateOptions<ForwardingOptions>;
