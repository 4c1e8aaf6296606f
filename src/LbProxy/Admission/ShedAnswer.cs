using System.Globalization;

namespace LbProxy.Admission;

/// <summary>
/// The answer to a request shed before it reached an origin, counted: the admission stage's and the cluster
/// capacity's. A client that left gets nginx's 499 ("client closed request", nobody reads it; the access log shows
/// it, not a 5xx of ours); any other shed a 503 with <c>Retry-After</c>, never cached.
/// </summary>
internal static class ShedAnswer
{
    public const int StatusCodeClientGone = 499;

    public static Task WriteAsync(HttpContext context, AdmissionMetrics metrics, ShedFeature shed, string clusterId, int retryAfterSeconds, string message)
    {
        context.Features.Set<IShedFeature>(shed);
        metrics.Shed(clusterId, shed.Reason);
        var response = context.Response;
        if (shed == ShedFeature.ClientGone)
        {
            response.StatusCode = StatusCodeClientGone;
            return Task.CompletedTask;
        }

        response.StatusCode = StatusCodes.Status503ServiceUnavailable;
        response.Headers.RetryAfter = retryAfterSeconds.ToString(CultureInfo.InvariantCulture);
        response.Headers.CacheControl = "no-store";
        response.ContentType = "text/plain; charset=utf-8";
        return response.WriteAsync(message, context.RequestAborted);
    }
}
