using System.Diagnostics.Metrics;

namespace LbProxy.Tests.Infrastructure;

/// <summary>An <see cref="IMeterFactory"/> of its own per test, so a <c>MetricCollector</c> sees that test's instruments only.</summary>
internal sealed class TestMeterFactory : IMeterFactory
{
    private readonly List<Meter> _meters = [];

    public Meter Create(MeterOptions options)
    {
        var meter = new Meter(options.Name, options.Version, options.Tags, scope: this);
        _meters.Add(meter);
        return meter;
    }

    public void Dispose()
    {
        foreach (var meter in _meters)
        {
            meter.Dispose();
        }
    }
}
