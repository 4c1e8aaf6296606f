using System.Globalization;
using LbProxy.Forwarding;
using Microsoft.Extensions.Options;
using Yarp.ReverseProxy.Forwarder;

namespace LbProxy.Health;

/// <summary>
/// When a cluster has no healthy destination YARP answers an empty 503 at once (and when every destination was
/// tried and failed, a 502); this makes either a 503 with a
/// <c>Retry-After</c> and a short body naming the cluster (never an address), so clients and outer balancers
/// back off instead of hammering, and an operator can tell this 503 from an origin's own.
/// </summary>
internal sealed class NoHealthyDestinationMiddleware(RequestDelegate next, IOptionsMonitor<HealthOptions> options)
{
    public async Task Invoke(HttpContext context)
    {
        await next(context);
        if (context.Response.HasStarted || !NoneAnswered(context))
        {
            return;
        }

        var cluster = context.GetReverseProxyFeature().Cluster?.Config.ClusterId ?? "";
        var response = context.Response;
        response.StatusCode = StatusCodes.Status503ServiceUnavailable;
        response.Headers.RetryAfter = options.CurrentValue.RetryAfterSeconds.ToString(CultureInfo.InvariantCulture);
        response.Headers.CacheControl = "no-store";
        response.ContentType = "text/plain; charset=utf-8";
        await response.WriteAsync(context.Features.Get<RetriesExhaustedFeature>()?.IsAtCapacity == true
            ? $"503 the proxy is at its connection capacity for cluster '{cluster}'\n"
            : $"503 no healthy destination in cluster '{cluster}'\n", context.RequestAborted);
    }

    /// <summary>
    /// No destination was available, or the retry stage tried every one and each failed to connect or answer
    /// (it says so with <see cref="RetriesExhaustedFeature"/>).
    /// </summary>
    private static bool NoneAnswered(HttpContext context) =>
        context.Features.Get<IForwarderErrorFeature>()?.Error switch
        {
            ForwarderError.NoAvailableDestinations => true,
            ForwarderError.Request or ForwarderError.RequestTimedOut => context.Features.Get<RetriesExhaustedFeature>() is not null,
            _ => false,
        };
}
