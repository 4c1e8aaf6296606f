using System.ComponentModel.DataAnnotations;
using System.Globalization;
using LbProxy.Configuration;
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
        await response.WriteAsync($"503 no healthy destination in cluster '{cluster}'\n", context.RequestAborted);
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

/// <summary>What a client is told when a cluster has no healthy destination.</summary>
internal sealed class HealthOptions
{
    public const string SectionName = "LbProxy:Health";

    /// <summary>The <c>Retry-After</c> of the 503 answered when no destination of a cluster is healthy.</summary>
    [Range(1, 3600)]
    public int RetryAfterSeconds { get; set; } = 5;

    /// <summary>
    /// How long a destination that refused a connection stays out, for clusters that set no
    /// <c>HealthCheck:Passive:ReactivationPeriod</c> of their own: nginx's <c>fail_timeout</c>, not YARP's 60 s,
    /// so a restarted origin is back soon (and if it still refuses, the next attempt costs one free retry).
    /// </summary>
    [TimeSpanRange("00:00:00.100", "01:00:00")]
    public TimeSpan RefusedReactivationPeriod { get; set; } = TimeSpan.FromSeconds(10);
}

[OptionsValidator]
internal sealed partial class HealthOptionsValidator : IValidateOptions<HealthOptions>;
