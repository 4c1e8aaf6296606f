using System.Net;

namespace LbProxy.Tests.Infrastructure;

/// <summary>
/// Steady GET traffic through a proxy in the background, counting every answer that is not a 200 and
/// every request that failed outright. Bounded in time and count; stops by itself.
/// </summary>
internal sealed class TrafficLoop : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop;
    private readonly Task _loop;
    private readonly List<string> _failures = [];
    private readonly TaskCompletionSource _firstOk = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _ok;

    private TrafficLoop(HttpClient client, Func<int, string> pathOf, TimeSpan bound, int maxRequests)
    {
        _stop = new CancellationTokenSource(bound);
        _loop = Task.Run(() => RunAsync(client, pathOf, maxRequests, _stop.Token));
    }

    public int Ok => Volatile.Read(ref _ok);

    public IReadOnlyList<string> Failures
    {
        get
        {
            lock (_failures)
            {
                return [.. _failures];
            }
        }
    }

    /// <summary>Starts the loop and returns once its first request has succeeded, so that traffic is flowing.</summary>
    public static Task<TrafficLoop> StartAsync(HttpClient client, string path = "/images/steady.jpg", TimeSpan? bound = null, int maxRequests = 200_000) =>
        StartAsync(client, _ => path, bound, maxRequests);

    /// <summary>As above, with the path of request i given by <paramref name="pathOf"/>.</summary>
    public static async Task<TrafficLoop> StartAsync(HttpClient client, Func<int, string> pathOf, TimeSpan? bound = null, int maxRequests = 200_000)
    {
        var loop = new TrafficLoop(client, pathOf, bound ?? TimeSpan.FromSeconds(120), maxRequests);
        try
        {
            if (await Task.WhenAny(loop._firstOk.Task, loop._loop).WaitAsync(TimeSpan.FromSeconds(30)) == loop._firstOk.Task)
            {
                return loop;
            }
        }
        catch (TimeoutException)
        {
            // Reported below, with the failures seen, as a loop that ended without a success is.
        }

        await loop.DisposeAsync();
        throw new InvalidOperationException("traffic did not start: " + string.Join("; ", loop.Failures));
    }

    /// <summary>Stops the loop and returns how many requests succeeded.</summary>
    public async Task<int> StopAsync()
    {
        await _stop.CancelAsync();
        await _loop;
        return Ok;
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _stop.Dispose();
    }

    private async Task RunAsync(HttpClient client, Func<int, string> pathOf, int maxRequests, CancellationToken cancellationToken)
    {
        for (var i = 0; i < maxRequests && !cancellationToken.IsCancellationRequested; i++)
        {
            try
            {
                using var response = await client.GetAsync(pathOf(i), cancellationToken);
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    Interlocked.Increment(ref _ok);
                    _firstOk.TrySetResult();
                }
                else
                {
                    Fail($"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync(CancellationToken.None)}");
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (HttpRequestException e)
            {
                Fail(e.Message);
            }
        }
    }

    private void Fail(string what)
    {
        lock (_failures)
        {
            _failures.Add(what);
        }
    }
}
