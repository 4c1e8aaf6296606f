using System.Diagnostics.Metrics;
using OpenTelemetry.Metrics;

namespace LbProxy.Metrics;

/// <summary>
/// Which measurements this host exports. Meters created through an <see cref="IMeterFactory"/> (ASP.NET Core
/// hosting, Kestrel, LbProxy's own) belong to one host; another host in the same process, such as the demo's
/// sample origins or a second proxy in a test run, has its own factory and meters of the same names, which the
/// listener would otherwise merge into ours. Process-wide meters (runtime, HttpClient) have no factory and pass.
/// The upstream client's instruments lose the origin's address and port: origins come and go with the config
/// (blue/green pools on fresh pods), and each address would leave its series on <c>/metrics</c> until the process
/// ends. The per-destination view is <c>lbproxy_proxy_*</c>, whose series follow the config.
/// </summary>
internal sealed class MeterSelection(IMeterFactory meterFactory)
{
    public MetricStreamConfiguration? Select(Instrument instrument)
    {
        if (instrument.Meter.Scope is IMeterFactory owner && !ReferenceEquals(owner, meterFactory))
        {
            return MetricStreamConfiguration.Drop;
        }

        if (instrument.Meter.Name == LbProxyMeter.HttpClient)
        {
            return new MetricStreamConfiguration { TagKeys = UpstreamClientTags };
        }

        return ThreadPoolGauges.IsMisreportedRuntimeInstrument(instrument) ? MetricStreamConfiguration.Drop : null;
    }

    // Every tag System.Net.Http's instruments carry but server.address, server.port and network.peer.address.
    private static readonly string[] UpstreamClientTags =
        ["http.request.method", "http.response.status_code", "network.protocol.version", "url.scheme", "error.type", "http.connection.state"];
}
