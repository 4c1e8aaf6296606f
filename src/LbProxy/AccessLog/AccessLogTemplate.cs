using System.Collections.Frozen;
using System.Diagnostics.CodeAnalysis;
using System.Net;
using System.Security.Authentication;
using LbProxy.Caching;
using LbProxy.Admission;
using LbProxy.Edge;
using LbProxy.Images;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Primitives;
using Yarp.ReverseProxy.Model;

namespace LbProxy.AccessLog;

/// <summary>
/// A line template compiled once into segments, and the formatting of one line from it. Placeholders:
/// <c>{ip}</c> client address; <c>{time}</c> <c>yyyy-MM-dd HH:mm:ss</c>; <c>{method}</c>; <c>{url}</c> path
/// and query as received; <c>{status}</c>; <c>{referer}</c> and <c>{ua}</c> raw header values;
/// <c>{duration_ms}</c>; <c>{bytes}</c> response body bytes sent; <c>{route}</c>, <c>{cluster}</c>,
/// <c>{destination}</c> as YARP chose them; <c>{request_id}</c>; <c>{path}</c> decoded path; <c>{query}</c>
/// without the <c>?</c>; <c>{format}</c> the image format class sent upstream (avif, webp, original; the cheaper one
/// when origin protection degraded it); <c>{shed}</c> why the request was shed without forwarding (queue_full,
/// queue_timeout, client_gone, rate_limited), empty when it was not; <c>{protocol}</c>
/// the request's protocol (<c>HTTP/1.1</c>, <c>HTTP/2</c>); <c>{tls}</c> the TLS version (<c>TLSv1.3</c>), <c>-</c>
/// on plain HTTP; <c>{cache}</c> what the hot set did on a cached route (hit, miss, stale, collapsed, bypass). An
/// absent value is empty. <c>{{</c> and <c>}}</c> write a brace.
/// </summary>
internal sealed class AccessLogTemplate
{
    private const string TimeFormat = "yyyy-MM-dd HH:mm:ss";
    private const string DurationFormat = "0.###";
    private const int StackLineChars = 512;

    private static readonly FrozenDictionary<string, AccessLogField> Names = new Dictionary<string, AccessLogField>
    {
        ["ip"] = AccessLogField.Ip,
        ["time"] = AccessLogField.Time,
        ["method"] = AccessLogField.Method,
        ["url"] = AccessLogField.Url,
        ["status"] = AccessLogField.Status,
        ["referer"] = AccessLogField.Referer,
        ["ua"] = AccessLogField.UserAgent,
        ["duration_ms"] = AccessLogField.DurationMs,
        ["bytes"] = AccessLogField.Bytes,
        ["route"] = AccessLogField.Route,
        ["cluster"] = AccessLogField.Cluster,
        ["destination"] = AccessLogField.Destination,
        ["request_id"] = AccessLogField.RequestId,
        ["path"] = AccessLogField.Path,
        ["format"] = AccessLogField.Format,
        ["shed"] = AccessLogField.Shed,
        ["query"] = AccessLogField.Query,
        ["protocol"] = AccessLogField.Protocol,
        ["tls"] = AccessLogField.Tls,
        ["cache"] = AccessLogField.Cache,
    }.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase);

    private readonly TemplateSegment[] _segments;

    private AccessLogTemplate(string text, TemplateSegment[] segments)
    {
        Text = text;
        _segments = segments;
        foreach (var segment in segments)
        {
            UsesBytes |= segment.Field == AccessLogField.Bytes;
        }
    }

    public static IEnumerable<string> PlaceholderNames => Names.Keys.Order(StringComparer.Ordinal);

    public string Text { get; }

    /// <summary>Counting response bytes costs a wrapper per request: only templates with <c>{bytes}</c> pay it.</summary>
    public bool UsesBytes { get; }

    public static AccessLogTemplate Parse(string text) =>
        TryParse(text, out var template, out var error) ? template : throw new FormatException(error);

    public static bool TryParse(string text, [NotNullWhen(true)] out AccessLogTemplate? template, [NotNullWhen(false)] out string? error)
    {
        template = null;
        var segments = new List<TemplateSegment>();
        var literal = new System.Text.StringBuilder();
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (c is '{' or '}' && i + 1 < text.Length && text[i + 1] == c)
            {
                literal.Append(c);
                i++;
                continue;
            }

            if (c == '}')
            {
                error = $"unmatched '}}' at position {i}; write '}}}}' for a brace";
                return false;
            }

            if (c != '{')
            {
                literal.Append(c);
                continue;
            }

            var end = text.IndexOf('}', i + 1);
            if (end < 0)
            {
                error = $"unclosed '{{' at position {i}; write '{{{{' for a brace";
                return false;
            }

            var name = text[(i + 1)..end];
            if (!Names.TryGetValue(name, out var field))
            {
                error = $"unknown placeholder {{{name}}}; known: {string.Join(", ", PlaceholderNames.Select(static n => "{" + n + "}"))}";
                return false;
            }

            if (literal.Length > 0)
            {
                segments.Add(new TemplateSegment(AccessLogField.Literal, literal.ToString()));
                literal.Clear();
            }

            segments.Add(new TemplateSegment(field, ""));
            i = end;
        }

        if (literal.Length > 0)
        {
            segments.Add(new TemplateSegment(AccessLogField.Literal, literal.ToString()));
        }

        template = new AccessLogTemplate(text, [.. segments]);
        error = null;
        return true;
    }

    /// <summary>The line of one request as text (for tests and tools; the middleware uses <see cref="FormatLine"/>).</summary>
    public string Format(HttpContext context, in AccessLogMeasurement measurement)
    {
        var line = FormatLine(context, measurement);
        try
        {
            return System.Text.Encoding.UTF8.GetString(line.Bytes);
        }
        finally
        {
            line.Return();
        }
    }

    /// <summary>The line of one request as UTF-8 in a pooled array: no allocation in the steady state.</summary>
    public AccessLogLine FormatLine(HttpContext context, in AccessLogMeasurement measurement)
    {
        var line = new LineBuilder(stackalloc char[StackLineChars]);
        try
        {
            Build(ref line, context, measurement);
            return line.ToLine();
        }
        finally
        {
            line.Dispose();
        }
    }

    private void Build(ref LineBuilder line, HttpContext context, in AccessLogMeasurement measurement)
    {
        foreach (var segment in _segments)
        {
            Write(ref line, segment, context, measurement);
        }
    }

    private static void Write(ref LineBuilder line, TemplateSegment segment, HttpContext context, in AccessLogMeasurement measurement)
    {
        var request = context.Request;
        switch (segment.Field)
        {
            case AccessLogField.Literal:
                line.Append(segment.Literal);
                break;
            case AccessLogField.Ip:
                WriteAddress(ref line, context.Connection.RemoteIpAddress);
                break;
            case AccessLogField.Time:
                line.Append(measurement.Time, TimeFormat);
                break;
            case AccessLogField.Method:
                // Empty only for a request Kestrel refused before it had parsed the request line.
                line.AppendEscaped(request.Method.Length == 0 ? "-" : request.Method);
                break;
            case AccessLogField.Url:
                var rawTarget = context.Features.Get<IHttpRequestFeature>()?.RawTarget;
                if (string.IsNullOrEmpty(rawTarget) && !request.Path.HasValue && !request.PathBase.HasValue)
                {
                    line.Append('-');
                }
                else if (string.IsNullOrEmpty(rawTarget))
                {
                    line.AppendEscaped(request.PathBase.Value);
                    line.AppendEscaped(request.Path.Value);
                    line.AppendEscaped(request.QueryString.Value);
                }
                else
                {
                    line.AppendEscaped(rawTarget);
                }

                break;
            case AccessLogField.Status:
                line.Append(measurement.StatusCode);
                break;
            case AccessLogField.Referer:
                WriteHeader(ref line, request.Headers.Referer);
                break;
            case AccessLogField.UserAgent:
                WriteHeader(ref line, request.Headers.UserAgent);
                break;
            case AccessLogField.DurationMs:
                line.Append(measurement.Duration.TotalMilliseconds, DurationFormat);
                break;
            case AccessLogField.Bytes:
                line.Append(measurement.Bytes);
                break;
            case AccessLogField.Route:
                line.AppendEscaped(context.Features.Get<IReverseProxyFeature>()?.Route.Config.RouteId);
                break;
            case AccessLogField.Cluster:
                line.AppendEscaped(context.Features.Get<IReverseProxyFeature>()?.Cluster?.Config.ClusterId);
                break;
            case AccessLogField.Destination:
                line.AppendEscaped(context.Features.Get<IReverseProxyFeature>()?.ProxiedDestination?.DestinationId);
                break;
            case AccessLogField.RequestId:
                line.AppendEscaped(context.TraceIdentifier);
                break;
            case AccessLogField.Path:
                line.AppendEscaped(request.PathBase.Value);
                line.AppendEscaped(request.Path.Value);
                break;
            case AccessLogField.Format:
                line.AppendEscaped(context.Features.Get<IImageFormatFeature>()?.FormatClass);
                break;
            case AccessLogField.Cache:
                line.AppendEscaped(context.Features.Get<ICacheResultFeature>()?.Result);
                break;
            case AccessLogField.Shed:
                line.AppendEscaped(context.Features.Get<IShedFeature>()?.Reason);
                break;
            case AccessLogField.Query:
                var query = request.QueryString.Value.AsSpan();
                line.AppendEscaped(query.StartsWith('?') ? query[1..] : query);
                break;
            case AccessLogField.Protocol:
                // Kestrel's interned constants; empty only for a request refused before its request line was read.
                line.AppendEscaped(request.Protocol.Length == 0 ? "-" : request.Protocol);
                break;
            case AccessLogField.Tls:
                line.Append(TlsVersion(context.Features.Get<ITlsHandshakeFeature>()));
                break;
        }
    }

    /// <summary>The TLS version as OpenSSL and nginx's <c>$ssl_protocol</c> name it; <c>-</c> on plain HTTP.</summary>
    private static string TlsVersion(ITlsHandshakeFeature? tls) => tls?.Protocol switch
    {
        null => "-",
        SslProtocols.Tls13 => "TLSv1.3",
        SslProtocols.Tls12 => "TLSv1.2",
        SslProtocols.None => "-",
        var other => other.Value.ToString(), // an older version an endpoint allowed explicitly: the enum's name
    };

    private static void WriteAddress(ref LineBuilder line, IPAddress? address)
    {
        if (address is null)
        {
            return;
        }

        // Longest IPv6 text with a scope id is under 65 characters.
        if (ClientAddress.TryFormat(address, line.Reserve(64), out var written))
        {
            line.Advance(written);
        }
    }

    private static void WriteHeader(ref LineBuilder line, StringValues values)
    {
        for (var i = 0; i < values.Count; i++)
        {
            if (i > 0)
            {
                line.Append(", ");
            }

            line.AppendEscaped(values[i]);
        }
    }
}

/// <summary>What the middleware measured of one request, beside what the HttpContext holds.</summary>
internal readonly record struct AccessLogMeasurement(DateTime Time, int StatusCode, TimeSpan Duration, long Bytes);

/// <summary>One piece of a compiled template: a placeholder, or literal text when <see cref="Field"/> is Literal.</summary>
internal readonly record struct TemplateSegment(AccessLogField Field, string Literal);

/// <summary>What a template segment writes: literal text, or one of the placeholders.</summary>
internal enum AccessLogField
{
    Literal,
    Ip,
    Time,
    Method,
    Url,
    Status,
    Referer,
    UserAgent,
    DurationMs,
    Bytes,
    Route,
    Cluster,
    Destination,
    RequestId,
    Path,
    Query,
    Format,
    Protocol,
    Tls,
    Cache,
    Shed,
}
