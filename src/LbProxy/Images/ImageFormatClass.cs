using LbProxy.Metrics;

namespace LbProxy.Images;

/// <summary>
/// The format class a request's bytes are counted under: the one negotiated (after any degrading by admission:
/// the class the origin was asked for), or <see cref="ProxyMetrics.NoFormat"/> on a route that does not negotiate.
/// </summary>
internal sealed class ImageFormatClass : IRequestFormatClass
{
    public string Of(HttpContext context) => context.Features.Get<IImageFormatFeature>()?.FormatClass ?? ProxyMetrics.NoFormat;
}
