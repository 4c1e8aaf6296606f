using System.Globalization;
using LbProxy.Images;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;
using Yarp.ReverseProxy.Forwarder;

namespace LbProxy.Caching;

/// <summary>
/// The hot set on a route with <c>"Cache.Enabled": "true"</c>, after format negotiation (the key holds the format
/// class) and before retries and balancing (a hit takes no origin slot). A fresh entry is answered from memory. A
/// miss leads one origin request for its key, whose response streams to its client and into the hot set at once;
/// concurrent requests for the key wait for it and stream the same bytes (collapsed forwarding), or go to the
/// origin themselves when it proves not for sharing. When the origin fails (no healthy destination, a failed
/// forward, a 5xx) before anything reached the client, a stale entry within <see cref="CacheOptions.MaxStaleIfError"/>
/// is answered instead. Every response of a cached route says what happened in <c>Cache-Status</c> (RFC 9211).
/// A route without caching costs one table lookup.
/// </summary>
internal sealed partial class ResponseCacheMiddleware(
    RequestDelegate next,
    HotSet hotSet,
    IOptionsMonitor<CacheOptions> options,
    CacheMetrics metrics,
    TimeProvider time,
    CacheRefreshes refreshes,
    ILogger<ResponseCacheMiddleware> logger)
{
    private const string Hit = "LbProxy; hit";
    private const string Collapsed = "LbProxy; fwd=uri-miss; collapsed";

    public Task Invoke(HttpContext context)
    {
        var route = context.GetReverseProxyFeature().Route;
        var settings = CacheRouteSettings.Of(route);
        return settings.Enabled ? InvokeCachedAsync(context, route.Config.RouteId, settings) : next(context);
    }

    private async Task InvokeCachedAsync(HttpContext context, string routeId, CacheRouteSettings settings)
    {
        var request = context.Request;
        if (CachePolicy.BypassReason(request.Method, request.Headers, settings.AllowCookies) is { } bypass)
        {
            Record(context, routeId, CacheResult.Bypass);
            await ForwardAsync(context, "LbProxy; fwd=" + bypass);
            return;
        }

        var current = options.CurrentValue;
        var key = CacheKey.Of(request, context.Features.Get<IImageFormatFeature>()?.FormatClass);
        var now = time.GetUtcNow();
        var entry = hotSet.Get(key);
        if (entry is not null)
        {
            var staleness = entry.StalenessAt(now);
            if (staleness < TimeSpan.Zero)
            {
                if (await CacheResponder.ServeEntryAsync(context, entry, now, Hit))
                {
                    Record(context, routeId, CacheResult.Hit);
                    return;
                }

                entry = null;
            }
            else if (!entry.Freshness.MustRevalidate && staleness <= current.MaxStaleWhileRevalidate)
            {
                // Answered stale at once; one refresh per key goes to the origin in the background, unless one (or
                // a miss of this key) is there already.
                StartRefresh(context, key, entry, current);
                if (await CacheResponder.ServeEntryAsync(context, entry, now, StaleWhileRevalidate(staleness)))
                {
                    Record(context, routeId, CacheResult.Stale);
                    return;
                }

                entry = null;
            }
        }

        if (HttpMethods.IsHead(request.Method))
        {
            // A HEAD fills nothing: its response has no body. It is answered from a GET's entry when there is one.
            Record(context, routeId, CacheResult.Miss);
            await ForwardAsync(context, entry is null ? "LbProxy; fwd=uri-miss" : "LbProxy; fwd=stale");
            return;
        }

        var flight = hotSet.JoinOrLead(key, out var leads);
        if (!leads)
        {
            await FollowAsync(context, routeId, flight, current);
            return;
        }

        try
        {
            await LeadAsync(context, routeId, key, flight, entry, current, now, background: false);
        }
        finally
        {
            flight.DecideOrigin(); // no-op once decided; waiters never wait past the leader
            hotSet.EndFlight(key, flight);
        }
    }

    /// <summary>RFC 9211: answered from memory (<c>hit</c>), its remaining freshness negative (<c>ttl</c>): stale.</summary>
    private static string StaleWhileRevalidate(TimeSpan staleness) =>
        string.Create(CultureInfo.InvariantCulture, $"LbProxy; hit; ttl=-{(long)Math.Ceiling(staleness.TotalSeconds)}; detail=stale-while-revalidate");

    /// <summary>A request collapsed onto another one's origin request.</summary>
    private async Task FollowAsync(HttpContext context, string routeId, Flight flight, CacheOptions current)
    {
        var outcome = await flight.WaitAsync(current.CollapseTimeout, context.RequestAborted);
        switch (outcome)
        {
            case FlightOutcome.Stream when await CacheResponder.ServeFlightAsync(context, flight, Collapsed):
                Record(context, routeId, CacheResult.Collapsed);
                return;
            case FlightOutcome.Stale when await CacheResponder.ServeEntryAsync(context, flight.StaleEntry!, time.GetUtcNow(), flight.StaleCacheStatus):
                Record(context, routeId, flight.StaleEntry!.StalenessAt(time.GetUtcNow()) > TimeSpan.Zero ? CacheResult.Stale : CacheResult.Collapsed);
                return;
        }

        Record(context, routeId, CacheResult.Miss);
        await ForwardAsync(context, outcome is null ? "LbProxy; fwd=uri-miss; detail=collapse-timeout" : "LbProxy; fwd=uri-miss");
    }

    /// <summary>The one origin request of a key: its response goes to its client, into the hot set and to the waiters.</summary>
    /// <remarks>
    /// <paramref name="background"/>: a refresh of <paramref name="stale"/> on a context of its own (see
    /// <see cref="StartRefresh"/>): nobody reads its response; what it did is counted in
    /// <c>lbproxy_cache_refreshes_total</c>, not as a request.
    /// </remarks>
    private async Task LeadAsync(HttpContext context, string routeId, CacheKey key, Flight flight, CacheEntry? stale, CacheOptions current, DateTimeOffset now, bool background)
    {
        var request = context.Request;
        var response = context.Response;

        // The origin's whole response is what is stored: the client's conditions and range are answered from it.
        var clientConditions = TakeConditions(request.Headers);
        var validating = stale is not null && (stale.ETag is not null || stale.LastModified is not null);
        if (validating)
        {
            if (stale!.ETag is { } etag)
            {
                request.Headers.IfNoneMatch = etag;
            }
            else
            {
                request.Headers.IfModifiedSince = HeaderUtilities.FormatDate(stale.LastModified!.Value);
            }
        }

        var staleForError = stale is not null && !stale.Freshness.MustRevalidate && stale.StalenessAt(now) <= current.MaxStaleIfError ? stale : null;
        var forwardedAs = stale is null ? "uri-miss" : "stale";
        Freshness freshness = default;
        KeyValuePair<string, StringValues>[]? stored = null;
        var upstreamStatus = 0;

        CaptureMode Decide(CaptureBodyFeature capture)
        {
            upstreamStatus = response.StatusCode;
            var failed = context.Features.Get<IForwarderErrorFeature>() is not null;
            // Sent upstream one class cheaper (admission degrades a request that waits for a slot): not this key's bytes.
            var degraded = Degraded(context, key);
            CaptureMode mode;
            if ((validating && upstreamStatus == StatusCodes.Status304NotModified && !failed)
                || (staleForError is not null && upstreamStatus >= 500))
            {
                mode = CaptureMode.Swallow;
            }
            else if (!failed && !degraded && CachePolicy.TryGetFreshness(upstreamStatus, response.Headers, current.DefaultTtl, time.GetUtcNow(), out freshness)
                && (response.ContentLength ?? 0) <= current.MaxObjectBytes)
            {
                stored = CacheResponder.Snapshot(response.Headers);
                if (response.ContentLength is { } length)
                {
                    capture.Body = CacheBody.OfLength(length);
                    flight.DecideStream(upstreamStatus, stored, capture.Body);
                }
                else
                {
                    // Unknown length: it may yet prove too large, so the waiters do not follow it.
                    capture.Body = CacheBody.Growing(current.MaxObjectBytes);
                    flight.DecideOrigin();
                }

                mode = CaptureMode.Capture;
            }
            else
            {
                flight.DecideOrigin();
                mode = CaptureMode.PassThrough;
            }

            if (mode != CaptureMode.Swallow)
            {
                response.Headers[CacheResponder.CacheStatusHeader] = string.Create(CultureInfo.InvariantCulture,
                    $"LbProxy; fwd={forwardedAs}; fwd-status={upstreamStatus}{(mode == CaptureMode.Capture ? "; stored" : "")}");
            }

            return mode;
        }

        var bodyFeature = context.Features.GetRequiredFeature<IHttpResponseBodyFeature>();
        var capture = new CaptureBodyFeature(bodyFeature, Decide);
        context.Features.Set<IHttpResponseBodyFeature>(capture);
        try
        {
            await next(context);
        }
        finally
        {
            context.Features.Set(bodyFeature);
            RestoreConditions(request.Headers, clientConditions);
        }

        var mode = capture.Decide();
        if (mode == CaptureMode.Capture)
        {
            var body = capture.Body!;
            var added = false;
            if (context.Features.Get<IForwarderErrorFeature>() is null && body.Complete())
            {
                added = hotSet.TryAdd(new CacheEntry(key, upstreamStatus, stored!, body, time.GetUtcNow(), freshness));
            }
            else
            {
                body.Fail();
                body.Release();
            }

            RecordLead(added ? RefreshResult.Stored : RefreshResult.Failed);
            return;
        }

        if (mode != CaptureMode.Swallow || response.HasStarted)
        {
            if (background)
            {
                // The origin answered, but not something to store (no-store, private, a 404...): the stale copy must
                // not outlive that answer. A failure (no answer, a 5xx, shed) leaves it for stale-if-error.
                var failed = context.Features.Get<IForwarderErrorFeature>() is not null || upstreamStatus >= 500 || Degraded(context, key);
                if (!failed && stale is not null)
                {
                    hotSet.Remove(stale);
                }

                metrics.RecordRefresh(failed ? RefreshResult.Failed : RefreshResult.Dropped);
                LogRefreshed(logger, key.Path, key.Format, upstreamStatus, failed ? "failed" : "dropped");
                return;
            }

            Record(context, routeId, CacheResult.Miss);
            return;
        }

        var answer = stale!;
        var status = $"LbProxy; fwd=stale; fwd-status={upstreamStatus}; detail=stale-if-error";
        var result = CacheResult.Stale;
        if (upstreamStatus == StatusCodes.Status304NotModified && RefreshedBy(answer, response.Headers, current) is { } refreshed)
        {
            answer = refreshed;
            status = "LbProxy; fwd=stale; fwd-status=304";
            result = CacheResult.Miss;
        }

        flight.DecideStale(answer, status.Replace("LbProxy; fwd=stale;", "LbProxy; fwd=stale; collapsed;", StringComparison.Ordinal));
        if (background)
        {
            RecordLead(result == CacheResult.Miss ? RefreshResult.Revalidated : RefreshResult.Failed);
            return;
        }

        response.Clear();
        if (await CacheResponder.ServeEntryAsync(context, answer, time.GetUtcNow(), status))
        {
            await response.StartAsync(); // an empty body too: nothing after this may answer in its place
            Record(context, routeId, result);
            return;
        }

        // Evicted between the decision and now: the origin's failure is all there is to say.
        response.StatusCode = upstreamStatus == StatusCodes.Status304NotModified ? StatusCodes.Status502BadGateway : upstreamStatus;
        Record(context, routeId, CacheResult.Miss);

        void RecordLead(RefreshResult refresh)
        {
            if (background)
            {
                metrics.RecordRefresh(refresh);
                LogRefreshed(logger, key.Path, key.Format, upstreamStatus, CacheMetrics.RefreshResults[(int)refresh]);
            }
            else
            {
                Record(context, routeId, CacheResult.Miss);
            }
        }
    }

    /// <summary>
    /// The stale entry refreshed by the origin's 304: its body, its headers updated by the 304's (RFC 9111 §4.3.4),
    /// stored again with a new freshness; null when the updated headers no longer allow storing it.
    /// </summary>
    private CacheEntry? RefreshedBy(CacheEntry stale, IHeaderDictionary notModified, CacheOptions current)
    {
        var merged = new HeaderDictionary();
        foreach (var (name, value) in stale.Headers)
        {
            merged[name] = value;
        }

        foreach (var (name, value) in CacheResponder.Snapshot(notModified))
        {
            if (!name.StartsWith("Content-", StringComparison.OrdinalIgnoreCase))
            {
                merged[name] = value;
            }
        }

        if (!CachePolicy.TryGetFreshness(stale.StatusCode, merged, current.DefaultTtl, time.GetUtcNow(), out var freshness) || !stale.Body.TryAcquire())
        {
            return null;
        }

        var refreshed = new CacheEntry(stale.Key, stale.StatusCode, CacheResponder.Snapshot(merged), stale.Body, time.GetUtcNow(), freshness);
        return hotSet.TryAdd(refreshed) ? refreshed : null;
    }

    /// <summary>Sent upstream in another class than its key's: admission degrades a request that waits for a slot.</summary>
    private static bool Degraded(HttpContext context, in CacheKey key) =>
        !string.Equals(context.Features.Get<IImageFormatFeature>()?.FormatClass ?? "", key.Format, StringComparison.Ordinal);

    private Task ForwardAsync(HttpContext context, string cacheStatus)
    {
        context.Response.OnStarting(static state =>
        {
            var (response, status) = ((HttpResponse, string))state;
            response.Headers[CacheResponder.CacheStatusHeader] = status;
            return Task.CompletedTask;
        }, (context.Response, cacheStatus));
        return next(context);
    }

    private void Record(HttpContext context, string routeId, CacheResult result)
    {
        context.Features.Set<ICacheResultFeature>(result);
        metrics.Record(routeId, result);
    }

    private static (StringValues IfNoneMatch, StringValues IfModifiedSince, StringValues Range, StringValues IfRange) TakeConditions(IHeaderDictionary headers)
    {
        var taken = (headers.IfNoneMatch, headers.IfModifiedSince, headers.Range, headers.IfRange);
        headers.Remove(HeaderNames.IfNoneMatch);
        headers.Remove(HeaderNames.IfModifiedSince);
        headers.Remove(HeaderNames.Range);
        headers.Remove(HeaderNames.IfRange);
        return taken;
    }

    private static void RestoreConditions(IHeaderDictionary headers, (StringValues IfNoneMatch, StringValues IfModifiedSince, StringValues Range, StringValues IfRange) taken)
    {
        headers.IfNoneMatch = taken.IfNoneMatch;
        headers.IfModifiedSince = taken.IfModifiedSince;
        headers.Range = taken.Range;
        headers.IfRange = taken.IfRange;
    }
}
