namespace LbProxy.Tests.Infrastructure;

/// <summary>
/// A known kind of leak: a request logger that starts its own periodic flush timer when it is built.
/// Built once it is harmless; built per request, every request leaves one more timer behind, ticking
/// forever. Test-only, to prove the leak detector can fail.
/// </summary>
internal sealed class LeakyRequestLogger : IDisposable
{
    private readonly List<string> _buffer = [];
    private readonly Timer _flushTimer;

    public LeakyRequestLogger() =>
        _flushTimer = new Timer(static state => ((LeakyRequestLogger)state!).Flush(), this, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));

    public void Log(string line)
    {
        lock (_buffer)
        {
            _buffer.Add(line);
        }
    }

    public void Dispose() => _flushTimer.Dispose();

    private void Flush()
    {
        lock (_buffer)
        {
            _buffer.Clear();
        }
    }
}
