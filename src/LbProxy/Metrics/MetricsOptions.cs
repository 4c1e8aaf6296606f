namespace LbProxy.Metrics;

/// <summary>Where <c>/metrics</c> answers.</summary>
internal sealed class MetricsOptions
{
    public const string SectionName = "LbProxy:Metrics";

    /// <summary>
    /// The name of a <c>Kestrel:Endpoints</c> entry that alone answers <c>/metrics</c>; elsewhere <c>/metrics</c> is a
    /// 404, and the endpoint itself forwards nothing (only <c>/metrics</c> and the control plane answer on it). Unset
    /// (the default), <c>/metrics</c> answers on every endpoint, as before. A port of its own is what Traefik and
    /// ingress-nginx do: the traffic port can be public while the scrape port is reachable from the monitoring
    /// namespace only (deploy/k8s/networkpolicy.yaml). Live on reload.
    /// </summary>
    public string? Endpoint { get; set; }
}
