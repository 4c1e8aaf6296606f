using System.Diagnostics.CodeAnalysis;
using LbProxy.SampleOrigin;
using Microsoft.Extensions.Options;
using Yarp.ReverseProxy.Configuration;

namespace LbProxy.Demo;

/// <summary>
/// The demo's sample origins: started before YARP loads its config (whose first active health probe
/// runs at once, and would otherwise find them down), stopped after the proxy has stopped.
/// </summary>
internal sealed partial class DemoOrigins(
    IOptions<DemoOptions> options,
    IEnumerable<IProxyConfigProvider> providers,
    ILogger<DemoOrigins> logger) : IHostedLifecycleService
{
    private readonly List<SampleOriginServer> _origins = [];

    public IReadOnlyList<SampleOriginServer> Origins => _origins;

    public async Task StartOriginsAsync(CancellationToken cancellationToken)
    {
        var demo = options.Value;
        if (!demo.Enabled)
        {
            return;
        }

        var cluster = providers.First().GetConfig().Clusters
            .First(c => string.Equals(c.ClusterId, demo.Cluster, StringComparison.OrdinalIgnoreCase));
        foreach (var (id, destination) in cluster.Destinations!)
        {
            if (!TryGetLoopbackUrl(destination.Address, out var url))
            {
                continue;
            }

            var origin = await SampleOriginServer.StartAsync(id, url, cancellationToken);
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

    [LoggerMessage(EventId = 9001, Level = LogLevel.Information, Message = "Demo origin {OriginId} listening on {Address}")]
    private static partial void LogOriginStarted(ILogger logger, string originId, Uri address);
}
