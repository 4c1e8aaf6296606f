using System.Diagnostics.CodeAnalysis;
using LbProxy.SampleOrigin;
using Microsoft.Extensions.Options;
using Yarp.ReverseProxy.Configuration;

namespace LbProxy.Demo;

/// <summary>
/// The demo's sample origins, one on each destination of the demo cluster, owned by the host: they stop after
/// the proxy has stopped. They start when YARP first takes in the demo cluster (a config filter, run while YARP
/// loads its first config), because YARP probes every destination once right after that load: origins started
/// later, even by a hosted service's StartingAsync, would fail that first probe.
/// </summary>
internal sealed partial class DemoOrigins(IOptions<DemoOptions> options, ILogger<DemoOrigins> logger)
    : IHostedLifecycleService, IProxyConfigFilter
{
    private readonly List<SampleOriginServer> _origins = [];
    private readonly Lock _lock = new();
    private Task? _start;

    public async ValueTask<ClusterConfig> ConfigureClusterAsync(ClusterConfig cluster, CancellationToken cancel)
    {
        var demo = options.Value;
        if (demo.Enabled && string.Equals(cluster.ClusterId, demo.Cluster, StringComparison.OrdinalIgnoreCase))
        {
            Task start;
            lock (_lock)
            {
                // Read at the first load only: a reload neither starts nor stops origins.
                start = _start ??= StartAsync(cluster, cancel);
            }

            await start;
        }

        return cluster;
    }

    public ValueTask<RouteConfig> ConfigureRouteAsync(RouteConfig route, ClusterConfig? cluster, CancellationToken cancel) =>
        ValueTask.FromResult(route);

    private async Task StartAsync(ClusterConfig cluster, CancellationToken cancellationToken)
    {
        foreach (var (id, destination) in cluster.Destinations ?? new Dictionary<string, DestinationConfig>())
        {
            if (!TryGetLoopbackUrl(destination.Address, out var url))
            {
                continue;
            }

            SampleOriginServer origin;
            try
            {
                origin = await SampleOriginServer.StartAsync(id, url, cancellationToken);
            }
            catch (IOException e)
            {
                // Most often another demo holds the port: say so in one line rather than in Kestrel's words.
                await StoppedAsync(cancellationToken);
                throw new IOException($"demo origin '{id}' cannot listen on {url}: {e.Message} (is another LbProxy demo running?)", e);
            }

            _origins.Add(origin);
            LogOriginStarted(logger, id, origin.Address);
        }
    }

    public async Task StoppedAsync(CancellationToken cancellationToken)
    {
        foreach (var origin in _origins)
        {
            await origin.DisposeAsync();
        }

        _origins.Clear();
    }

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    internal static bool TryGetLoopbackUrl(string address, [NotNullWhen(true)] out string? url)
    {
        url = null;
        if (!Uri.TryCreate(address, UriKind.Absolute, out var uri) || uri.Scheme != Uri.UriSchemeHttp
            || !DemoConfigCheck.IsLoopback(uri.Host))
        {
            return false;
        }

        url = $"http://{uri.Authority}";
        return true;
    }

    [LoggerMessage(EventId = LogEvents.DemoOriginStarted, Level = LogLevel.Information, Message = "Demo origin {OriginId} listening on {Address}")]
    private static partial void LogOriginStarted(ILogger logger, string originId, Uri address);
}
