using System.Collections.Concurrent;
using System.Text;
using LbProxy.AccessLog;

namespace LbProxy.Tests.Infrastructure;

/// <summary>
/// An access-log output for in-process proxies: the UTF-8 lines the proxy's access-log writer hands to its
/// output, kept in memory (decoded) instead of going to the test host's stdout.
/// </summary>
internal sealed class CapturedAccessLog
{
    private readonly ConcurrentQueue<string> _lines = new();

    public IReadOnlyList<string> Lines => [.. _lines];

    public int Count => _lines.Count;

    public AccessLogOutput CreateOutput() => new Output(this);

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

    private sealed class Output(CapturedAccessLog log) : AccessLogOutput
    {
        public override void Write(ReadOnlySpan<byte> line) => log._lines.Enqueue(Encoding.UTF8.GetString(line));
    }
}
