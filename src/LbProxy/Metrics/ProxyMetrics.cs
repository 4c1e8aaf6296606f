using System.Diagnostics;
using System.Diagnostics.Metrics;
using Yarp.ReverseProxy.Forwarder;

namespace LbProxy.Metrics;

/// <summary>
/// The per-request instruments of the proxy stage, recorded once per proxied request by
/// <see cref="ProxyMetricsMiddleware"/>. Tags are ids from the config (route, cluster, destination), the status
/// code and YARP's error kind: all bounded, never a path, a client address or a header.
/// </summary>
/// <remarks>
/// The counters are <see cref="ConfiguredCounter{TKey}"/>s: a removed cluster's series leave at the next scrape.
/// A histogram cannot be observed, so the duration histogram lives on a meter of its own that is replaced when a
/// reload removes a destination it has series for: the removed series are exported one last time and are gone
/// from the scrape after, and the histograms of the clusters that stay start again from 0 (a counter reset, which
/// <c>rate()</c> and <c>histogram_quantile()</c> over <c>rate()</c> handle as they do a restart).
/// </remarks>
internal sealed class ProxyMetrics : IClusterSeries, IDisposable
{
    public const string RequestsName = "lbproxy.proxy.requests";
    public const string DurationName = "lbproxy.proxy.duration";
    public const string ErrorsName = "lbproxy.proxy.errors";
    public const string UpstreamDurationName = "lbproxy.proxy.upstream.duration";
    public const string RequestBodyName = "lbproxy.proxy.request.body";
    public const string ResponseBodyName = "lbproxy.proxy.response.body";

    /// <summary>The format tag of a request whose route does not negotiate image formats.</summary>
    public const string NoFormat = "none";

    /// <summary>The destination tag of a request that never reached one (no healthy destination, or a failure before).</summary>
    public const string NoDestination = "";

    // The same boundaries as ASP.NET Core's http.server.request.duration, so both histograms line up on a
    // dashboard, plus 30 s: the default upstream activity timeout.
    private static readonly double[] DurationBuckets = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 30];

    // Error kinds named once: Enum.ToString allocates.
    private static readonly string?[] ErrorNames = NameErrors();

    private readonly IMeterFactory _meterFactory;
    private readonly ConfiguredCounter<RequestSeries> _requests;
    private readonly ConfiguredCounter<ErrorSeries> _errors;
    private readonly ConfiguredCounter<BodySeries> _requestBytes;
    private readonly ConfiguredCounter<BodySeries> _responseBytes;
    private readonly Lock _durationLock = new();
    private Meter _durationMeter;
    private volatile Histograms _histograms;

    public ProxyMetrics(IMeterFactory meterFactory)
    {
        _meterFactory = meterFactory;
        var meter = meterFactory.Create(LbProxyMeter.Name);
        _requests = new ConfiguredCounter<RequestSeries>(
            meter,
            RequestsName,
            unit: "{request}",
            description: "Requests that matched a proxy route, by route, cluster, destination and final status code.");
        _errors = new ConfiguredCounter<ErrorSeries>(
            meter,
            ErrorsName,
            unit: "{error}",
            description: "Requests that YARP failed to forward, by cluster, destination and YARP's ForwarderError kind.");
        _requestBytes = new ConfiguredCounter<BodySeries>(
            meter,
            RequestBodyName,
            unit: "By",
            description: "Request body bytes read from clients, by route, cluster and negotiated image format class.");
        _responseBytes = new ConfiguredCounter<BodySeries>(
            meter,
            ResponseBodyName,
            unit: "By",
            description: "Response body bytes written to clients, by route, cluster and negotiated image format class.");
        _durationMeter = CreateDurationMeter(out var histograms);
        _histograms = histograms;
    }

    /// <summary>False while nothing listens: the middleware then skips taking timestamps and building tags.</summary>
    public bool Enabled => _requests.Enabled || _histograms.Duration.Enabled || _errors.Enabled || _responseBytes.Enabled;

    /// <summary>
    /// Records one proxied request. <paramref name="upstream"/> is the time spent in the forwarder, null when the
    /// request never reached it (answered by the proxy itself: a cache hit, a 429, a 503 with no destination).
    /// </summary>
    public void RequestCompleted(
        string routeId,
        string clusterId,
        string destinationId,
        int statusCode,
        ForwarderError error,
        TimeSpan duration,
        string formatClass = NoFormat,
        long requestBytes = 0,
        long responseBytes = 0,
        TimeSpan? upstream = null)
    {
        if (_requests.Enabled)
        {
            _requests.Add(new RequestSeries(routeId, clusterId, destinationId, statusCode));
        }

        if (_responseBytes.Enabled)
        {
            var body = new BodySeries(routeId, clusterId, formatClass);
            _requestBytes.Add(body, requestBytes);
            _responseBytes.Add(body, responseBytes);
        }

        var histograms = _histograms;
        if (histograms.Duration.Enabled)
        {
            var tags = new TagList
            {
                { MetricTags.Route, routeId },
                { MetricTags.Cluster, clusterId },
                { MetricTags.Destination, destinationId },
            };
            histograms.Duration.Record(duration.TotalSeconds, tags);
        }

        if (upstream is { } upstreamTime && histograms.Upstream.Enabled)
        {
            // No destination: the attempts of a retried request may have gone to several.
            var tags = new TagList
            {
                { MetricTags.Route, routeId },
                { MetricTags.Cluster, clusterId },
            };
            histograms.Upstream.Record(upstreamTime.TotalSeconds, tags);
        }

        if (error is not ForwarderError.None && _errors.Enabled)
        {
            _errors.Add(new ErrorSeries(clusterId, destinationId, ErrorName(error)));
        }
    }

    /// <summary>
    /// Starts each cluster's <c>NoAvailableDestinations</c> error series at 0 (see
    /// <see cref="ClusterSeriesConfigListener"/>) and drops the series of what the config no longer has.
    /// </summary>
    public void Configure(ConfiguredIds ids)
    {
        var removed = _requests.Configure(ids);
        _errors.Configure(ids);
        _requestBytes.Configure(ids);
        _responseBytes.Configure(ids);
        foreach (var cluster in ids.Clusters)
        {
            _errors.Start(new ErrorSeries(cluster.ClusterId, NoDestination, ErrorName(ForwarderError.NoAvailableDestinations)));
        }

        // Every duration and upstream series has its request series (same route, cluster, destination), so a removed
        // request series (a route or a destination gone) tells a histogram series is stale.
        if (removed.Count > 0)
        {
            ReplaceDurationHistogram();
        }
    }

    public void Dispose()
    {
        lock (_durationLock)
        {
            _durationMeter.Dispose();
        }
    }

    private void ReplaceDurationHistogram()
    {
        lock (_durationLock)
        {
            // The old meter goes first: OpenTelemetry hands a new instrument the stream of a live one with the same
            // identity, and that stream would leave with the old meter.
            _durationMeter.Dispose();
            _durationMeter = CreateDurationMeter(out var histograms);
            _histograms = histograms;
        }
    }

    private Meter CreateDurationMeter(out Histograms histograms)
    {
        // Not from the factory, which caches meters and would hand out the disposed one; its scope is the factory,
        // so this host's exporter (MeterSelection) and the tests' collectors see it as the host's LbProxy meter.
        var meter = new Meter(new MeterOptions(LbProxyMeter.Name) { Scope = _meterFactory });
        var advice = new InstrumentAdvice<double> { HistogramBucketBoundaries = DurationBuckets };
        histograms = new Histograms(
            meter.CreateHistogram(
                DurationName,
                unit: "s",
                description: "Time from the proxy stage taking a request until the response is complete, by route, cluster and destination.",
                tags: null,
                advice: advice),
            meter.CreateHistogram(
                UpstreamDurationName,
                unit: "s",
                description: "Time in the forwarder (sending to the origin until its response is copied, every attempt), by route and cluster.",
                tags: null,
                advice: advice));
        return meter;
    }

    /// <summary>The histograms of one meter, swapped together.</summary>
    private sealed record Histograms(Histogram<double> Duration, Histogram<double> Upstream);

    private static string ErrorName(ForwarderError error) =>
        ((uint)error < (uint)ErrorNames.Length ? ErrorNames[(int)error] : null) ?? error.ToString();

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

/// <summary>One series of <c>lbproxy_proxy_requests_total</c>.</summary>
internal readonly record struct RequestSeries(string Route, string Cluster, string Destination, int StatusCode) : IConfiguredSeriesKey
{
    public bool IsConfiguredIn(ConfiguredIds ids) => ids.HasRoute(Route) && ids.HasDestination(Cluster, Destination);

    public TagList Tags() => new()
    {
        { MetricTags.Route, Route },
        { MetricTags.Cluster, Cluster },
        { MetricTags.Destination, Destination },
        { MetricTags.StatusCode, StatusCode },
    };
}

/// <summary>
/// One series of <c>lbproxy_proxy_request_body_bytes_total</c> and <c>lbproxy_proxy_response_body_bytes_total</c>:
/// the format is one of four fixed classes (avif, webp, original, none), so the series are at most four per route.
/// </summary>
internal readonly record struct BodySeries(string Route, string Cluster, string Format) : IConfiguredSeriesKey
{
    public bool IsConfiguredIn(ConfiguredIds ids) => ids.HasRoute(Route) && ids.HasCluster(Cluster);

    public TagList Tags() => new()
    {
        { MetricTags.Route, Route },
        { MetricTags.Cluster, Cluster },
        { MetricTags.Format, Format },
    };
}

/// <summary>One series of <c>lbproxy_proxy_errors_total</c>.</summary>
internal readonly record struct ErrorSeries(string Cluster, string Destination, string Error) : IConfiguredSeriesKey
{
    public bool IsConfiguredIn(ConfiguredIds ids) => ids.HasDestination(Cluster, Destination);

    public TagList Tags() => new()
    {
        { MetricTags.Cluster, Cluster },
        { MetricTags.Destination, Destination },
        { MetricTags.Error, Error },
    };
}
