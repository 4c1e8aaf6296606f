namespace LbProxy.Metrics;

/// <summary>
/// The format class a request's bytes are counted under (<c>format</c> on the byte counters): one of a fixed few,
/// never a value from the request. Images/ provides the negotiated class; without it every request is
/// <see cref="ProxyMetrics.NoFormat"/>.
/// </summary>
internal interface IRequestFormatClass
{
    string Of(HttpContext context);
}

/// <summary>No format negotiation in this host: every request is <see cref="ProxyMetrics.NoFormat"/>.</summary>
internal sealed class NoRequestFormatClass : IRequestFormatClass
{
    public string Of(HttpContext context) => ProxyMetrics.NoFormat;
}
