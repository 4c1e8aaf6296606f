using Microsoft.Extensions.Options;
using Yarp.ReverseProxy.Model;

namespace LbProxy.Images;

/// <summary>
/// Negotiates the format class of a request on a negotiating route and sets <see cref="IImageFormatFeature"/>,
/// ahead of load balancing so that ConsistentHash keys on it; the transforms send it upstream and add
/// <c>Vary: Accept</c>. Synchronous: no state machine per request.
/// </summary>
internal sealed class ImageFormatMiddleware(RequestDelegate next, IOptionsMonitor<ImagesOptions> options, ImageMetrics metrics)
{
    public Task Invoke(HttpContext context)
    {
        if (Negotiates(context.GetReverseProxyFeature().Route, options.CurrentValue))
        {
            var format = ImageFormatNegotiator.Negotiate(context.Request.Headers.Accept);
            context.Features.Set<IImageFormatFeature>(format);
            metrics.Record(format.FormatClass);
        }

        return next(context);
    }

    internal static bool Negotiates(RouteModel route, ImagesOptions options)
    {
        var metadata = route.Config.Metadata;
        if (metadata is not null && metadata.TryGetValue(ImagesOptions.RouteMetadataKey, out var value) && bool.TryParse(value, out var negotiate))
        {
            return negotiate;
        }

        return options.NegotiateByDefault;
    }
}
