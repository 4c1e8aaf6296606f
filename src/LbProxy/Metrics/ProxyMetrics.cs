using System.Diagnostics;
using System.Diagnostics.Metrics;
using Yarp.ReverseProxy.Configuration;
using Yarp.ReverseProxy.Forwarder;

namespace LbProxy.Metrics;

/// <summary>
/// The per-request instruments of the proxy stage, recorded once per proxied request by
/// <see cref="ProxyMetricsMiddleware"/>. Tags are ids from the config (route, cluster, destination), the status
/// code and YARP's error kind: all bounded, never a path, a client address or a header.
/// </summary>
internal sealed class ProxyMetrics : IClusterSeries
{
    public const string RequestsName = "lbproxy.proxy.requests";
    public const string DurationName = "lbproxy.proxy.duration";
    public const string ErrorsName = "lbproxy.proxy.errors";

    /// <summary>The destination tag of a request that never reached one (no healthy destination, or a failure before).</summary>
    public const string NoDestination = "";

    // The same boundaries as ASP.NET Core's http.server.request.duration, so both histograms line up on a
    // dashboard, plus 30 s: the default upstream activity timeout.
    private static readonly double[] _durationBuckets = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 30];

    // Status codes and error kinds boxed once: a tag value is an object, and boxing per request allocates.
    private static readonly object[] _boxedStatusCodes = BoxStatusCodes();
    private static readonly string?[] _errorNames = NameErrors();

    private readonly Counter<long> _requests;
    private readonly Histogram<double> _duration;
    private readonly Counter<long> _errors;

    public ProxyMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(LbProxyMeter.Name);
        _requests = meter.CreateCounter<long>(
            RequestsName,
            unit: "{request}",
            description: "Requests that matched a proxy route, by route, cluster, destination and final status code.");
        _duration = meter.CreateHistogram(
            DurationName,
            unit: "s",
            description: "Time from the proxy stage taking a request until the response is complete, by cluster and destination.",
            tags: null,
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = _durationBuckets });
        _errors = meter.CreateCounter<long>(
            ErrorsName,
            unit: "{error}",
            description: "Requests that YARP failed to forward, by cluster, destination and YARP's ForwarderError kind.");
    }

    /// <summary>False while nothing listens: the middleware then skips taking timestamps and building tags.</summary>
    public bool Enabled => _requests.Enabled || _duration.Enabled || _errors.Enabled;

    public void RequestCompleted(
        string routeId,
        string clusterId,
        string destinationId,
        int statusCode,
        ForwarderError error,
        TimeSpan duration)
    {
        if (_requests.Enabled)
        {
            var tags = new TagList
            {
                { MetricTags.Route, routeId },
                { MetricTags.Cluster, clusterId },
                { MetricTags.Destination, destinationId },
                { MetricTags.StatusCode, BoxedStatusCode(statusCode) },
            };
            _requests.Add(1, tags);
        }

        if (_duration.Enabled)
        {
            var tags = new TagList
            {
                { MetricTags.Cluster, clusterId },
                { MetricTags.Destination, destinationId },
            };
            _duration.Record(duration.TotalSeconds, tags);
        }

        if (error is not ForwarderError.None && _errors.Enabled)
        {
            var tags = new TagList
            {
                { MetricTags.Cluster, clusterId },
                { MetricTags.Destination, destinationId },
                { MetricTags.Error, ErrorName(error) },
            };
            _errors.Add(1, tags);
        }
    }

    /// <summary>Creates the cluster's <c>NoAvailableDestinations</c> error series at 0 (see <see cref="ClusterSeriesConfigListener"/>).</summary>
    public void ClusterConfigured(ClusterConfig cluster)
    {
        if (_errors.Enabled)
        {
            var tags = new TagList
            {
                { MetricTags.Cluster, cluster.ClusterId },
                { MetricTags.Destination, NoDestination },
                { MetricTags.Error, ErrorName(ForwarderError.NoAvailableDestinations) },
            };
            _errors.Add(0, tags);
        }
    }

    private static object BoxedStatusCode(int statusCode) =>
        (uint)(statusCode - 100) < (uint)_boxedStatusCodes.Length ? _boxedStatusCodes[statusCode - 100] : statusCode;

    private static string ErrorName(ForwarderError error) =>
        ((uint)error < (uint)_errorNames.Length ? _errorNames[(int)error] : null) ?? error.ToString();

    private static object[] BoxStatusCodes()
    {
        var boxed = new object[500];
        for (var i = 0; i < boxed.Length; i++)
        {
            boxed[i] = i + 100;
        }

        return boxed;
    }

    private static string?[] NameErrors()
    {
        var values = Enum.GetValues<ForwarderError>();
        var names = new string?[values.Max(static v => (int)v) + 1];
        foreach (var value in values)
        {
            names[(int)value] = value.ToString();
        }

        return names;
    }
}
