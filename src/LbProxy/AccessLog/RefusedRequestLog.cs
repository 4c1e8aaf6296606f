using System.Diagnostics;
using System.Diagnostics.Metrics;
using LbProxy.Metrics;
using Microsoft.AspNetCore.Http.Features;

namespace LbProxy.AccessLog;

/// <summary>
/// Requests Kestrel refuses before any middleware runs (a bad request line or header, headers too large or too slow,
/// refused framing: 400, 408, 414, 431, ...) get the access-log line every other request gets, written by the same
/// <see cref="AccessLogRecorder"/>, and are counted by reason as <c>lbproxy.requests.refused{reason}</c>.
/// How: Kestrel's <c>HttpProtocol.SetBadRequestState</c>, the one place every refusal passes, writes the diagnostic
/// event <c>Microsoft.AspNetCore.Server.Kestrel.BadRequest</c> on the host's <see cref="DiagnosticListener"/> with the
/// request's feature collection, whose <see cref="IBadRequestExceptionFeature"/> holds the refusal and whose request
/// and connection features hold what was parsed (method and path when the request line was, the client address).
/// Kestrel's own log of it (<c>ConnectionBadRequest</c>) is at Debug and under the framework's Warning floor, and
/// <c>kestrel.connection.duration</c>'s <c>error.type</c> comes at connection end with no address, so neither would
/// do. The listener is the host's own (the demo's sample origins have theirs), and it listens to this one event only.
/// Refusals of a request the pipeline already runs (a body read that fails) are left to the access-log middleware,
/// which writes that request's line itself.
/// </summary>
internal sealed partial class RefusedRequestLog : IObserver<KeyValuePair<string, object?>>, IDisposable
{
    public const string InstrumentName = "lbproxy.requests.refused";
    public const string EventName = "Microsoft.AspNetCore.Server.Kestrel.BadRequest";

    private static readonly Predicate<string> IsBadRequestEvent = static name => name == EventName;

    private readonly AccessLogRecorder _recorder;
    private readonly ILogger<RefusedRequestLog> _logger;
    private readonly Counter<long> _refused;
    private IDisposable? _subscription;

    public RefusedRequestLog(AccessLogRecorder recorder, IMeterFactory meterFactory, ILogger<RefusedRequestLog> logger)
    {
        _recorder = recorder;
        _logger = logger;
        _refused = meterFactory.Create(LbProxyMeter.Name).CreateCounter<long>(InstrumentName, "{request}",
            "Requests Kestrel refused before the pipeline, by reason");
    }

    /// <summary>Starts listening to <paramref name="listener"/>, the host's; once.</summary>
    public void Listen(DiagnosticListener listener) => _subscription ??= listener.Subscribe(this, IsBadRequestEvent);

    public void OnNext(KeyValuePair<string, object?> value)
    {
        if (value.Key != EventName || value.Value is not IFeatureCollection features
            || features.Get<IBadRequestExceptionFeature>()?.Error is not BadHttpRequestException refusal
            || features.Get<IAccessLogSeenFeature>() is not null)
        {
            return;
        }

        var reason = ReasonOf(refusal);
        if (_refused.Enabled)
        {
            _refused.Add(1, new KeyValuePair<string, object?>(MetricTags.Reason, reason));
        }

        LogRefused(_logger, reason, refusal.StatusCode);
        if (_recorder.Begin() is { } settings)
        {
            // Refused before the pipeline: no time spent in it, no body sent.
            _recorder.Record(new DefaultHttpContext(features), settings, refusal.StatusCode, TimeSpan.Zero, 0);
        }
    }

    /// <summary>
    /// A bounded reason from the refusal: by its status, and for a 400 by the start of Kestrel's message (its resource
    /// strings, in English under invariant globalization), since the rejection reason itself is internal.
    /// </summary>
    internal static string ReasonOf(BadHttpRequestException refusal) => refusal.StatusCode switch
    {
        StatusCodes.Status408RequestTimeout => "headers_timeout",
        StatusCodes.Status413PayloadTooLarge => "body_too_large",
        StatusCodes.Status414UriTooLong => "request_line_too_long",
        StatusCodes.Status431RequestHeaderFieldsTooLarge => "headers_too_large",
        StatusCodes.Status405MethodNotAllowed => "method_not_allowed",
        StatusCodes.Status411LengthRequired => "length_required",
        StatusCodes.Status505HttpVersionNotsupported => "http_version",
        StatusCodes.Status400BadRequest => ReasonOf400(refusal.Message),
        _ => "other",
    };

    private static string ReasonOf400(string message)
    {
        if (message.Contains("request line", StringComparison.OrdinalIgnoreCase) || message.Contains("request target", StringComparison.OrdinalIgnoreCase))
        {
            return "invalid_request_line";
        }

        if (message.Contains("chunk", StringComparison.OrdinalIgnoreCase) || message.Contains("content", StringComparison.OrdinalIgnoreCase))
        {
            return "invalid_body_framing";
        }

        return message.Contains("header", StringComparison.OrdinalIgnoreCase) || message.Contains("Host", StringComparison.Ordinal)
            ? "invalid_request_headers"
            : "bad_request";
    }

    public void OnError(Exception error)
    {
    }

    public void OnCompleted()
    {
    }

    public void Dispose() => _subscription?.Dispose();

    [LoggerMessage(EventId = LogEvents.RequestRefused, Level = LogLevel.Debug, Message = "Kestrel refused a request: {Reason} ({StatusCode})")]
    private static partial void LogRefused(ILogger logger, string reason, int statusCode);
}

/// <summary>Marks a request whose line the access-log middleware writes, so that a refusal of it is not written twice.</summary>
internal interface IAccessLogSeenFeature;

/// <summary>The one instance every request shares.</summary>
internal sealed class AccessLogSeen : IAccessLogSeenFeature
{
    public static readonly AccessLogSeen Instance = new();
}
