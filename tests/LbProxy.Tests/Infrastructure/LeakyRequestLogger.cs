namespace LbProxy.Tests.Infrastructure;

/// <summary>
/// The story's bug, in C#: a request logger that starts its own background flush loop when it is built.
/// Built once it is harmless; built per request, every request leaves one more loop, and one more active
/// timer, behind. Test-only, to prove the leak detector can fail.
/// </summary>
internal sealed class LeakyRequestLogger
{
    private readonly List<string> _buffer = [];

    public LeakyRequestLogger(CancellationToken stop) => _ = FlushLoopAsync(stop);

    public void Log(string line)
    {
        lock (_buffer)
        {
            _buffer.Add(line);
        }
    }

    private async Task FlushLoopAsync(CancellationToken stop)
    {
        try
        {
            while (true)
            {
                await Task.Delay(TimeSpan.FromSeconds(1), stop);
                lock (_buffer)
                {
                    _buffer.Clear();
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }
}
