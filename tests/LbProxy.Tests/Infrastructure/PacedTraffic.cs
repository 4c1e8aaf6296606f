using System.Net;

namespace LbProxy.Tests.Infrastructure;

/// <summary>
/// Traffic at a bounded rate: each worker sends a request, then waits <c>pause</c>, until the count or the time
/// bound is reached. The watchdog's targets are per request while detection takes a fixed time, so its tests pace
/// their load (a few workers at 20 ms make about 150–200 requests a second here). Workers can be added while it runs.
/// </summary>
internal sealed class PacedTraffic : IAsyncDisposable
{
    private readonly HttpClient _client;
    private readonly string _path;
    private readonly TimeSpan _pause;
    private readonly CancellationTokenSource _stop;
    private readonly List<Task> _workers = [];
    private readonly int _maxRequests;
    private int _sent;
    private int _ok;
    private int _failed;

    public PacedTraffic(HttpClient client, int workers, TimeSpan pause, TimeSpan bound, int maxRequests = 200_000, string path = "/images/steady.jpg")
    {
        _client = client;
        _path = path;
        _pause = pause;
        _maxRequests = maxRequests;
        _stop = new CancellationTokenSource(bound);
        for (var i = 0; i < workers; i++)
        {
            AddWorker();
        }
    }

    public int Ok => Volatile.Read(ref _ok);

    public int Failed => Volatile.Read(ref _failed);

    public int Workers
    {
        get
        {
            lock (_workers)
            {
                return _workers.Count;
            }
        }
    }

    public void AddWorker()
    {
        lock (_workers)
        {
            _workers.Add(Task.Run(() => RunAsync(_stop.Token)));
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        Task[] workers;
        lock (_workers)
        {
            workers = [.. _workers];
        }

        await Task.WhenAll(workers);
        _stop.Dispose();
    }

    private async Task RunAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested && Interlocked.Increment(ref _sent) <= _maxRequests)
        {
            try
            {
                using var response = await _client.GetAsync(_path, cancellationToken);
                Interlocked.Increment(ref response.StatusCode == HttpStatusCode.OK ? ref _ok : ref _failed);
                await Task.Delay(_pause, cancellationToken);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (HttpRequestException)
            {
                Interlocked.Increment(ref _failed);
            }
        }
    }
}
