using System.Collections.Concurrent;
using LbProxy.AccessLog;
using Serilog;
using Serilog.Core;
using Serilog.Events;

namespace LbProxy.Tests.Infrastructure;

/// <summary>
/// An access-log sink for in-process proxies: the lines the proxy's access-log writer hands to Serilog, kept
/// in memory instead of going to the test host's stdout. The formatting is the production formatter's.
/// </summary>
internal sealed class CapturedAccessLog : ILogEventSink
{
    private readonly ConcurrentQueue<string> _lines = new();
    private readonly AccessLineFormatter _formatter = new();

    public IReadOnlyList<string> Lines => [.. _lines];

    public int Count => _lines.Count;

    public AccessLogOutput CreateOutput() => new(new LoggerConfiguration().WriteTo.Sink(this).CreateLogger());

    public void Emit(LogEvent logEvent)
    {
        using var writer = new StringWriter();
        _formatter.Format(logEvent, writer);
        _lines.Enqueue(writer.ToString().TrimEnd('\n'));
    }

    /// <summary>
    /// Waits until at least <paramref name="count"/> lines have arrived (the writer is asynchronous) and returns
    /// them all; fails, showing what it has, when they do not come within <paramref name="bound"/>.
    /// </summary>
    public Task<IReadOnlyList<string>> WaitForAsync(int count, TimeSpan? bound = null) =>
        Poll.UntilAsync(
            () => Task.FromResult(Lines),
            lines => lines.Count >= count,
            bound ?? TimeSpan.FromSeconds(10),
            $"{count} access-log line(s)",
            lines => $"{lines.Count} line(s), the last ones:\n{string.Join("\n", lines.TakeLast(20))}");
}
