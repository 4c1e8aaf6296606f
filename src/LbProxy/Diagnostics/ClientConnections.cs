using System.Diagnostics.Metrics;
using LbProxy.Metrics;

namespace LbProxy.Diagnostics;

/// <summary>
/// Client connections open and opened, from Kestrel's <c>kestrel.active_connections</c>, which reports once per
/// connection open and close and never per request (HTTP/1.1, HTTP/2 and HTTP/3 alike). Only this host's Kestrel:
/// the instrument is enabled when its meter comes from this host's meter factory, so the demo's origins and other
/// hosts in the process are left out.
/// </summary>
internal sealed class ClientConnections : IDisposable
{
    private const string ActiveConnections = "kestrel.active_connections";

    private readonly MeterListener _listener = new();
    private long _open;
    private long _opened;

    public ClientConnections(IMeterFactory meterFactory)
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Name == ActiveConnections && instrument.Meter.Name == LbProxyMeter.Kestrel
                && ReferenceEquals(instrument.Meter.Scope, meterFactory))
            {
                listener.EnableMeasurementEvents(instrument, this);
            }
        };
        _listener.SetMeasurementEventCallback<long>(static (_, value, _, state) => ((ClientConnections)state!).Add(value));
        _listener.Start();
    }

    public long Open => Volatile.Read(ref _open);

    public long Opened => Volatile.Read(ref _opened);

    public void Dispose() => _listener.Dispose();

    private void Add(long value)
    {
        Interlocked.Add(ref _open, value);
        if (value > 0)
        {
            Interlocked.Add(ref _opened, value);
        }
    }
}
