using LbProxy.Control;

namespace LbProxy.Caching;

/// <summary>
/// <c>DELETE /_lb/cache?path=/images/x.jpg</c> drops every stored entry of that path (every format class, host and
/// query); <c>DELETE /_lb/cache</c> drops all (token). Both answer how many entries went, and are counted
/// (<c>lbproxy_cache_purges_total</c>) and logged. <c>GET /_lb/cache</c> shows the status section alone.
/// </summary>
internal sealed partial class CacheEndpoints(HotSet hotSet, CacheMetrics metrics, ILogger<CacheEndpoints> logger) : IControlEndpoints
{
    public void Map(IEndpointRouteBuilder control)
    {
        control.MapGet("/cache", context => ControlJson.WriteAsync(context, CacheStatus.Capture(hotSet, metrics), CacheJsonContext.Default.CacheStatus));
        control.MapDelete("/cache", PurgeAsync);
    }

    private Task PurgeAsync(HttpContext context)
    {
        var query = context.Request.Query;
        if (!query.TryGetValue("path", out var paths))
        {
            var all = hotSet.Purge(static _ => true);
            metrics.RecordPurge(all: true);
            LogPurgedAll(logger, all);
            return ControlJson.WriteAsync(context, new CachePurge(CacheMetrics.ScopeAll, null, all), CacheJsonContext.Default.CachePurge);
        }

        var path = paths.ToString();
        if (paths.Count != 1 || path.Length is 0 or > 2048 || path[0] != '/')
        {
            return ControlPlaneEndpoints.TextAsync(context, StatusCodes.Status400BadRequest, "path must be one absolute path, such as /images/cat.jpg\n");
        }

        var purged = hotSet.Purge(key => string.Equals(key.Path, path, StringComparison.Ordinal));
        metrics.RecordPurge(all: false);
        LogPurgedPath(logger, path, purged);
        return ControlJson.WriteAsync(context, new CachePurge(CacheMetrics.ScopePath, path, purged), CacheJsonContext.Default.CachePurge);
    }

    [LoggerMessage(EventId = LogEvents.CachePurgedPath, Level = LogLevel.Information, Message = "Cache purge of path {Path}: {Purged} entries dropped")]
    private static partial void LogPurgedPath(ILogger logger, string path, int purged);

    [LoggerMessage(EventId = LogEvents.CachePurgedAll, Level = LogLevel.Information, Message = "Cache purge of everything: {Purged} entries dropped")]
    private static partial void LogPurgedAll(ILogger logger, int purged);
}
