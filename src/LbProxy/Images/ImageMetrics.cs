using System.Diagnostics.Metrics;
using LbProxy.Metrics;

namespace LbProxy.Images;

/// <summary><c>lbproxy_image_requests_total{format}</c>: requests of negotiating routes by the format class chosen.</summary>
internal sealed class ImageMetrics
{
    public const string RequestsName = "lbproxy.image.requests";

    private readonly Counter<long> _requests;

    public ImageMetrics(IMeterFactory meterFactory)
    {
        _requests = meterFactory.Create(LbProxyMeter.Name).CreateCounter<long>(
            RequestsName,
            unit: "{request}",
            description: "Requests of image routes, by the negotiated format class: avif, webp or original.");
    }

    public void Record(string formatClass)
    {
        if (_requests.Enabled)
        {
            _requests.Add(1, new KeyValuePair<string, object?>(MetricTags.Format, formatClass));
        }
    }
}
