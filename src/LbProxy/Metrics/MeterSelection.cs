using System.Diagnostics.Metrics;
using OpenTelemetry.Metrics;

namespace LbProxy.Metrics;

/// <summary>
/// Which measurements this host exports. Meters created through an <see cref="IMeterFactory"/> (ASP.NET Core
/// hosting, Kestrel, LbProxy's own) belong to one host; another host in the same process, such as the demo's
/// sample origins or a second proxy in a test run, has its own factory and meters of the same names, which the
/// listener would otherwise merge into ours. Process-wide meters (runtime, HttpClient) have no factory and pass.
/// </summary>
internal sealed class MeterSelection(IMeterFactory meterFactory)
{
    public MetricStreamConfiguration? Select(Instrument instrument)
    {
        if (instrument.Meter.Scope is IMeterFactory owner && !ReferenceEquals(owner, meterFactory))
        {
            return MetricStreamConfiguration.Drop;
        }

        return ThreadPoolGauges.IsMisreportedRuntimeInstrument(instrument) ? MetricStreamConfiguration.Drop : null;
    }
}
