using LbProxy.Edge;
using LbProxy.Images;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Net.Http.Headers;
using Yarp.ReverseProxy.Model;

namespace LbProxy.Caching;

/// <summary>
/// stale-while-revalidate in the background (RFC 5861 §3): the request that finds an entry stale within the bound is
/// answered it at once, and one refresh of that key goes to the origin on a context of its own.
/// </summary>
/// <remarks>
/// The refresh runs the rest of this route's proxy pipeline (<c>next</c>: retries, affinity, admission, balancing,
/// passive health and outlier ejection, YARP's forwarder with the route's transforms), so it takes an origin slot and
/// waits in the admission queue like any miss, and a dead destination is retried elsewhere. It cannot run on the
/// client's <see cref="HttpContext"/>: that one is answered and recycled by the server while the refresh is still at
/// the origin. So it gets a fresh <see cref="DefaultHttpContext"/> holding what the forward reads: a GET of the same
/// target with the client's request headers (not its credentials, conditions or range), the same endpoint and route
/// model, the cluster's destinations as they are now, the format class, and a body that goes nowhere but into the
/// hot set and to the requests collapsed onto it. Calling the cluster's <c>HttpClient</c> directly (or
/// <c>IHttpForwarder</c> alone) would pass by admission, balancing, retries and health: the origin protection a
/// miss has. It runs without the client's execution context (no trace or log scope of a request it outlives).
/// </remarks>
internal sealed partial class ResponseCacheMiddleware
{
    /// <summary>Request headers of the client not sent with a refresh: the cache's own request, for the whole entry.</summary>
    private static readonly HashSet<string> NotRefreshed = new(StringComparer.OrdinalIgnoreCase)
    {
        HeaderNames.Authorization, HeaderNames.Cookie, HeaderNames.IfNoneMatch, HeaderNames.IfModifiedSince,
        HeaderNames.IfMatch, HeaderNames.IfUnmodifiedSince, HeaderNames.IfRange, HeaderNames.Range,
        HeaderNames.CacheControl, HeaderNames.Pragma, HeaderNames.ContentLength, HeaderNames.ContentType,
        HeaderNames.TransferEncoding, HeaderNames.Expect, HeaderNames.Connection, HeaderNames.KeepAlive,
        HeaderNames.Upgrade, HeaderNames.TE, HeaderNames.Trailer, WellKnownHeaders.RequestId,
    };

    /// <summary>
    /// Starts the one background refresh of <paramref name="stale"/>'s key, unless a refresh or a miss of that key is
    /// at the origin already, or every refresh slot is taken (counted as skipped). Returns at once.
    /// </summary>
    private void StartRefresh(HttpContext context, in CacheKey key, CacheEntry stale, CacheOptions current)
    {
        if (hotSet.FlightOf(key) is not null)
        {
            return;
        }

        var proxy = context.GetReverseProxyFeature();
        if (proxy.Route.Cluster is not { } cluster || context.GetEndpoint() is not { } endpoint)
        {
            return;
        }

        if (!refreshes.TryEnter(current.MaxConcurrentRefreshes))
        {
            metrics.RecordRefresh(RefreshResult.Skipped);
            return;
        }

        var flight = hotSet.JoinOrLead(key, out var leads);
        if (!leads)
        {
            refreshes.Exit(); // a miss or refresh of this key got there first
            return;
        }

        DefaultHttpContext refresh;
        try
        {
            refresh = RefreshContext(context, endpoint, proxy.Route, cluster);
        }
        catch
        {
            flight.DecideOrigin();
            hotSet.EndFlight(key, flight);
            refreshes.Exit();
            throw;
        }

        var routeId = proxy.Route.Config.RouteId;
        var refreshKey = key;
        using (ExecutionContext.SuppressFlow())
        {
            _ = Task.Run(() => RefreshAsync(refresh, routeId, refreshKey, flight, stale, current));
        }
    }

    private async Task RefreshAsync(HttpContext refresh, string routeId, CacheKey key, Flight flight, CacheEntry stale, CacheOptions current)
    {
        try
        {
            await LeadAsync(refresh, routeId, key, flight, stale, current, time.GetUtcNow(), background: true);
        }
        catch (Exception error) when (error is not OutOfMemoryException)
        {
            metrics.RecordRefresh(RefreshResult.Failed);
            if (!refreshes.Stopping.IsCancellationRequested)
            {
                LogRefreshThrew(logger, key.Path, key.Format, error);
            }
        }
        finally
        {
            flight.DecideOrigin(); // no-op once decided: requests collapsed onto it go to the origin themselves
            hotSet.EndFlight(key, flight);
            refreshes.Exit();
        }
    }

    /// <summary>What a refresh's connection is called (by the cluster capacity's fair share, for one).</summary>
    internal const string RefreshConnectionId = "lbproxy-refresh";

    /// <summary>
    /// The refresh's own context: what the rest of the pipeline and YARP's forwarder read, copied now. The client's
    /// address and forwarding headers go with it, as nginx's background update sends them: the refresh is made on
    /// behalf of the request that found the entry stale.
    /// </summary>
    private DefaultHttpContext RefreshContext(HttpContext client, Endpoint endpoint, RouteModel route, ClusterState cluster)
    {
        var source = client.Request;
        var refresh = new DefaultHttpContext
        {
            RequestServices = refreshes.Services,
            RequestAborted = refreshes.Stopping,
            TraceIdentifier = RequestIdMiddleware.NewId(),
        };
        var request = refresh.Request;
        request.Protocol = HttpProtocol.Http11;
        request.Method = HttpMethods.Get;
        request.Scheme = source.Scheme;
        request.Host = source.Host;
        request.PathBase = source.PathBase;
        request.Path = source.Path;
        request.QueryString = source.QueryString;
        foreach (var (name, value) in source.Headers)
        {
            if (!NotRefreshed.Contains(name))
            {
                request.Headers[name] = value;
            }
        }

        request.Headers[WellKnownHeaders.RequestId] = refresh.TraceIdentifier;
        if (client.Features.Get<IHttpRequestFeature>()?.RawTarget is { } rawTarget)
        {
            refresh.Features.GetRequiredFeature<IHttpRequestFeature>().RawTarget = rawTarget;
        }

        var connection = refresh.Connection;
        connection.Id = RefreshConnectionId; // the refreshes share one turn at the cluster's capacity, as one client connection
        connection.RemoteIpAddress = client.Connection.RemoteIpAddress;
        connection.RemotePort = client.Connection.RemotePort;
        connection.LocalIpAddress = client.Connection.LocalIpAddress;
        connection.LocalPort = client.Connection.LocalPort;
        if (client.Features.Get<IImageFormatFeature>() is { } format)
        {
            refresh.Features.Set(format);
        }

        refresh.SetEndpoint(endpoint);
        var destinations = cluster.DestinationsState;
        refresh.Features.Set<IReverseProxyFeature>(new ReverseProxyFeature
        {
            Route = route,
            Cluster = cluster.Model,
            AllDestinations = destinations.AllDestinations,
            AvailableDestinations = destinations.AvailableDestinations,
        });
        return refresh;
    }

    [LoggerMessage(EventId = LogEvents.CacheRefreshed, Level = LogLevel.Debug,
        Message = "Background refresh of {Path} ({Format}): the origin answered {Status}; {Result}")]
    private static partial void LogRefreshed(ILogger logger, string path, string format, int status, string result);

    [LoggerMessage(EventId = LogEvents.CacheRefreshThrew, Level = LogLevel.Warning,
        Message = "Background refresh of {Path} ({Format}) failed; the stale entry stays")]
    private static partial void LogRefreshThrew(ILogger logger, string path, string format, Exception error);
}
