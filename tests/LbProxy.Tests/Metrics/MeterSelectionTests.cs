using System.Diagnostics.Metrics;
using LbProxy.Metrics;
using OpenTelemetry.Metrics;

namespace LbProxy.Tests.Metrics;

public sealed class MeterSelectionTests : IDisposable
{
    private readonly ServiceProvider _ours = new ServiceCollection().AddMetrics().BuildServiceProvider();
    private readonly ServiceProvider _other = new ServiceCollection().AddMetrics().BuildServiceProvider();

    [Fact]
    public void Select_InstrumentOfThisHostsFactory_IsKept()
    {
        var selection = new MeterSelection(_ours.GetRequiredService<IMeterFactory>());
        var counter = _ours.GetRequiredService<IMeterFactory>().Create(LbProxyMeter.Name).CreateCounter<long>("lbproxy.test.kept");

        Assert.Null(selection.Select(counter));
    }

    [Fact]
    public void Select_SameMeterNameFromAnotherHostsFactory_IsDropped()
    {
        var selection = new MeterSelection(_ours.GetRequiredService<IMeterFactory>());
        var counter = _other.GetRequiredService<IMeterFactory>().Create(LbProxyMeter.Name).CreateCounter<long>("lbproxy.test.dropped");

        Assert.Same(MetricStreamConfiguration.Drop, selection.Select(counter));
    }

    [Fact]
    public void Select_ProcessWideMeter_IsKept()
    {
        using var meter = new Meter(LbProxyMeter.HttpClient + ".Test");
        var selection = new MeterSelection(_ours.GetRequiredService<IMeterFactory>());

        Assert.Null(selection.Select(meter.CreateCounter<long>("http.client.test")));
    }

    public void Dispose()
    {
        _ours.Dispose();
        _other.Dispose();
    }
}
