using System.Globalization;
using System.Threading.RateLimiting;
using LbProxy.Edge;
using Microsoft.AspNetCore.RateLimiting;

namespace LbProxy.RateLimiting;

/// <summary>
/// Applies the policy a route names in YARP's <c>RateLimiterPolicy</c> key, which YARP turns into an
/// <see cref="EnableRateLimitingAttribute"/> on the route's endpoint. ASP.NET Core's <c>UseRateLimiter</c> is not
/// used: it copies its policy map once, when the pipeline is built, and throws for an endpoint naming a policy
/// added later, so a reload could not add a policy (there is no provider API yet: dotnet/aspnetcore#45684). This
/// resolves the name against the live policies at each request. A refused request gets a 429 with
/// <c>Retry-After</c> and a short body, and never reaches an origin; it is counted and logged at Debug.
/// With no policy configured, the cost is one read of an empty dictionary.
/// </summary>
internal sealed partial class RateLimitMiddleware(
    RequestDelegate next, RateLimitPolicies policies, TrustedProxies trusted, RateLimitMetrics metrics, ILogger<RateLimitMiddleware> logger)
{
    public Task Invoke(HttpContext context)
    {
        var current = policies.Current;
        if (current.Count == 0
            || context.GetEndpoint()?.Metadata.GetMetadata<EnableRateLimitingAttribute>()?.PolicyName is not { } name
            || !current.TryGetValue(name, out var policy))
        {
            return next(context);
        }

        return LimitAsync(context, policy);
    }

    private async Task LimitAsync(HttpContext context, RateLimitPolicy policy)
    {
        var route = context.GetReverseProxyFeature().Route.Config;
        RateLimitLease lease;
        try
        {
            lease = await AcquireAsync(context, route.RouteId, policy);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            return; // the client left while queued: nothing to answer, nothing forwarded
        }
        catch (ObjectDisposedException)
        {
            // The policy was replaced by a reload between the look-up and the acquire: take the new one's verdict.
            if (!policies.Current.TryGetValue(policy.Name, out var replaced) || ReferenceEquals(replaced, policy))
            {
                await next(context);
                return;
            }

            policy = replaced;
            lease = await AcquireAsync(context, route.RouteId, policy);
        }

        using (lease)
        {
            if (lease.IsAcquired)
            {
                await next(context); // a concurrency permit is held until the response is complete
                return;
            }

            var retryAfter = RetryAfterSeconds(lease, policy);
            var cluster = route.ClusterId ?? "";
            policies.CountLimited(policy);
            metrics.RecordLimited(cluster);
            LogLimited(logger, context.Request.Method, context.Request.Path, route.RouteId, policy.Name, retryAfter);

            var response = context.Response;
            response.StatusCode = StatusCodes.Status429TooManyRequests;
            response.Headers.RetryAfter = retryAfter.ToString(CultureInfo.InvariantCulture);
            response.Headers.CacheControl = "no-store";
            response.ContentType = "text/plain; charset=utf-8";
            await response.WriteAsync("429 too many requests\n", context.RequestAborted);
        }
    }

    private ValueTask<RateLimitLease> AcquireAsync(HttpContext context, string routeId, RateLimitPolicy policy)
    {
        Span<char> buffer = stackalloc char[PartitionKey.BufferLength];
        var limiter = policy.Partitions.Get(PartitionKey.Of(context, routeId, policy.Options.PartitionBy, trusted, buffer));
        return limiter.AcquireAsync(1, context.RequestAborted);
    }

    /// <summary>The limiter's own <c>RetryAfter</c> when it gives one, else the policy's period; whole seconds, at least 1.</summary>
    internal static int RetryAfterSeconds(RateLimitLease lease, RateLimitPolicy policy)
    {
        var after = lease.TryGetMetadata(MetadataName.RetryAfter, out var fromLimiter) ? fromLimiter : policy.DefaultRetryAfter;
        return (int)Math.Clamp(Math.Ceiling(after.TotalSeconds), 1, int.MaxValue);
    }

    [LoggerMessage(EventId = LogEvents.RateLimited, Level = LogLevel.Debug,
        Message = "Rate limited {Method} {Path} of route {Route} by policy {Policy}: 429, Retry-After {RetryAfter} s")]
    private static partial void LogLimited(ILogger logger, string method, PathString path, string route, string policy, int retryAfter);
}
