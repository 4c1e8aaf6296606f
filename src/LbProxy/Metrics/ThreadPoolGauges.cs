using System.Diagnostics.Metrics;

namespace LbProxy.Metrics;

/// <summary>
/// <c>dotnet.thread_pool.thread.count</c> and <c>dotnet.thread_pool.queue.length</c> as the gauges they are.
/// The .NET 10 runtime creates both as monotonic counters (dotnet/runtime#112077), so the exporter would name
/// them <c>..._total</c> and Prometheus would treat a thread count that falls as a counter reset. Where the
/// runtime does that, its two instruments are dropped by a view and the same readings are published here as
/// up-down counters under the same names; a runtime with the fix keeps its own and this adds nothing.
/// </summary>
internal sealed class ThreadPoolGauges
{
    public const string ThreadCountName = "dotnet.thread_pool.thread.count";
    public const string QueueLengthName = "dotnet.thread_pool.queue.length";

    private static readonly Lazy<bool> RuntimeReportsCounters = new(DetectRuntimeCounters);

    public ThreadPoolGauges(IMeterFactory meterFactory)
    {
        if (!RuntimeReportsCounters.Value)
        {
            return;
        }

        var meter = meterFactory.Create(LbProxyMeter.Name);
        meter.CreateObservableUpDownCounter(
            ThreadCountName,
            static () => (long)ThreadPool.ThreadCount,
            unit: "{thread}",
            description: "The number of thread pool threads that currently exist.");
        meter.CreateObservableUpDownCounter(
            QueueLengthName,
            static () => ThreadPool.PendingWorkItemCount,
            unit: "{work_item}",
            description: "The number of work items that are currently queued to be processed by the thread pool.");
    }

    /// <summary>True for the runtime's own thread-pool instruments when they are (wrongly) monotonic counters.</summary>
    public static bool IsMisreportedRuntimeInstrument(Instrument instrument) =>
        instrument is ObservableCounter<long>
        && instrument.Meter.Name == LbProxyMeter.Runtime
        && instrument.Name is ThreadCountName or QueueLengthName;

    private static bool DetectRuntimeCounters()
    {
        var found = false;
        using var listener = new MeterListener();
        // Starting a listener publishes every existing instrument to it, the runtime's included.
        listener.InstrumentPublished = (instrument, _) => found |= IsMisreportedRuntimeInstrument(instrument);
        listener.Start();
        return found;
    }
}
