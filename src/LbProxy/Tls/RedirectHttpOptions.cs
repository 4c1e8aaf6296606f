namespace LbProxy.Tls;

/// <summary>
/// Plain-HTTP endpoints that answer every request with a redirect to the same host, path and query over HTTPS: 301 for
/// GET and HEAD, 308 for other methods (which keeps the method and body). Nothing on them is forwarded; the control
/// plane and <c>/metrics</c> still answer there, so probes and scrapers on the plain port keep working.
/// </summary>
internal sealed class RedirectHttpOptions
{
    /// <summary>Names of plain-HTTP endpoints under <c>Kestrel:Endpoints</c>; none by default.</summary>
    public List<string> Endpoints { get; set; } = [];

    /// <summary>The port clients reach HTTPS on, in the redirect's <c>Location</c>; 443 is left out of it.</summary>
    public int HttpsPort { get; set; } = 443;
}
