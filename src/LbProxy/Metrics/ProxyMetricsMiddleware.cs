using LbProxy.Edge;
using Yarp.ReverseProxy.Forwarder;
using Yarp.ReverseProxy.Model;

namespace LbProxy.Metrics;

/// <summary>
/// The first stage of YARP's proxy pipeline: it sees every request a route matched, whatever happens after it
/// (session affinity, load balancing, no healthy destination, forwarding), and records it once the response is
/// complete. Built once with the pipeline; per request it takes two timestamps, bumps the live counts that the
/// runtime sampler and the leak watchdog read (always, exporter or not), counts the body bytes and the time in the
/// forwarder through the request's reused <see cref="ProxyExchange"/> (while an exporter listens), and builds
/// stack-only tags.
/// </summary>
internal sealed class ProxyMetricsMiddleware(RequestDelegate next, ProxyMetrics metrics, LiveTraffic live, IRequestFormatClass formats, TimeProvider time)
{
    public async Task Invoke(HttpContext context)
    {
        var start = time.GetTimestamp();
        live.Started();
        var exchange = metrics.Enabled ? ProxyExchange.Begin(context) : null;
        ProxyRequestEnd.Begin(context); // this frame awaits the whole pipeline: the stages below leave their end here
        var failed = false;
        try
        {
            await next(context);
        }
        catch
        {
            failed = true; // the server turns an unhandled exception into a 500 after we return; counted as such
            throw;
        }
        finally
        {
            try
            {
                Record(context, failed ? StatusCodes.Status500InternalServerError : context.Response.StatusCode, start, exchange);
            }
            finally
            {
                ProxyRequestEnd.End(context);
            }
        }
    }

    private void Record(HttpContext context, int statusCode, long start, ProxyExchange? exchange)
    {
        var end = time.GetTimestamp();
        exchange?.End(context);
        var proxy = context.Features.Get<IReverseProxyFeature>();
        live.Finished(statusCode, end - start, proxy?.ProxiedDestination);
        if (proxy is null || !metrics.Enabled)
        {
            return;
        }

        metrics.RequestCompleted(
            proxy.Route.Config.RouteId,
            proxy.Cluster?.Config.ClusterId ?? proxy.Route.Config.ClusterId ?? string.Empty,
            proxy.ProxiedDestination?.DestinationId ?? ProxyMetrics.NoDestination,
            statusCode,
            context.Features.Get<IForwarderErrorFeature>()?.Error ?? ForwarderError.None,
            time.GetElapsedTime(start, end),
            formats.Of(context),
            exchange?.Received ?? 0,
            exchange?.Sent ?? 0,
            exchange is { Forwards: > 0 } ? time.GetElapsedTime(exchange.FirstForward, end) : null);
    }
}
