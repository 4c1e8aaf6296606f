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
}

[OptionsValidator]
internal sealed partial class ForwardingOptionsValidator : IValidateOptions<ForwardingOptions>;
