using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Reflection;
using LbProxy.AccessLog;
using LbProxy.Configuration;
using LbProxy.Diagnostics;
using LbProxy.Edge;
using LbProxy.Logging;
using LbProxy.Tls;
using Yarp.ReverseProxy;

namespace LbProxy.Control;

/// <summary>
/// The control endpoints by their path below the prefix, with their handlers, built once. healthz and readyz
/// are public (probes carry no token); the rest need the token, and the live page's (<c>/ui*</c>) take its
/// cookie too.
/// </summary>
internal sealed class ControlEndpointTable
{
    private const int MaxTtlSeconds = 24 * 60 * 60;
    private const string TextPlain = "text/plain; charset=utf-8";

    private static readonly string Version =
        typeof(ControlEndpointTable).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";

    private readonly Readiness _readiness;
    private readonly ConfigState _config;
    private readonly IProxyStateLookup _proxyState;
    private readonly AccessLogReport _accessLog;
    private readonly LogLevelControl _logLevel;
    private readonly ProcessUptime _uptime;
    private readonly TimeProvider _time;
    private readonly TlsCertificateStage _tls;
    private readonly LivePage _page;
    private readonly LivePageAsset _html;

    public ControlEndpointTable(
        Readiness readiness,
        ConfigState config,
        IProxyStateLookup proxyState,
        AccessLogReport accessLog,
        LogLevelControl logLevel,
        ProcessUptime uptime,
        LivePage page,
        ControlPrefix prefix,
        TimeProvider time,
        TlsCertificateStage tls)
    {
        _readiness = readiness;
        _config = config;
        _proxyState = proxyState;
        _accessLog = accessLog;
        _logLevel = logLevel;
        _uptime = uptime;
        _time = time;
        _tls = tls;
        _page = page;
        // Every URL in the page is absolute, so that /_lb/ui/ (which reaches the page too) does not break them.
        var index = page.Assets["index.html"];
        _html = index with { Content = Encoding.UTF8.GetBytes(Encoding.UTF8.GetString(index.Content).Replace("{{prefix}}", prefix.Value, StringComparison.Ordinal)) };
        Endpoints = new Dictionary<string, ControlEndpoint>(StringComparer.OrdinalIgnoreCase)
        {
            ["/healthz"] = new("healthz", [HttpMethods.Get, HttpMethods.Head], ControlEndpointAccess.Public, HealthzAsync),
            ["/readyz"] = new("readyz", [HttpMethods.Get, HttpMethods.Head], ControlEndpointAccess.Public, ReadyzAsync),
            ["/status"] = new("status", [HttpMethods.Get], ControlEndpointAccess.Token, StatusAsync),
            ["/loglevel"] = new("loglevel", [HttpMethods.Get, HttpMethods.Put], ControlEndpointAccess.Token, LogLevelAsync),
            ["/runtime"] = new("runtime", [HttpMethods.Get], ControlEndpointAccess.Token, RuntimeAsync),
            ["/ui"] = new("ui", [HttpMethods.Get, HttpMethods.Head], ControlEndpointAccess.TokenOrUiCookie, context => AssetAsync(context, _html)),
            ["/ui/data"] = new("ui/data", [HttpMethods.Get], ControlEndpointAccess.TokenOrUiCookie, UiDataAsync),
        };
        foreach (var (name, asset) in page.Assets)
        {
            if (name != "index.html")
            {
                Endpoints["/ui/" + name] = new("ui/" + name, [HttpMethods.Get, HttpMethods.Head], ControlEndpointAccess.TokenOrUiCookie,
                    context => AssetAsync(context, asset));
            }
        }
    }

    public Dictionary<string, ControlEndpoint> Endpoints { get; }

    private static Task TextAsync(HttpContext context, int statusCode, string text)
    {
        context.Response.StatusCode = statusCode;
        context.Response.ContentType = TextPlain;
        return context.Response.WriteAsync(text);
    }

    private static Task HealthzAsync(HttpContext context) => TextAsync(context, StatusCodes.Status200OK, "ok");

    private Task ReadyzAsync(HttpContext context) => _readiness.IsReady
        ? TextAsync(context, StatusCodes.Status200OK, "ready")
        : TextAsync(context, StatusCodes.Status503ServiceUnavailable, _readiness.IsDraining ? "draining" : "not ready");

    private Task StatusAsync(HttpContext context) =>
        context.Response.WriteAsJsonAsync(
            CaptureStatus(),
            ControlJsonContext.Readable.StatusReport);

    private Task LogLevelAsync(HttpContext context)
    {
        if (HttpMethods.IsGet(context.Request.Method))
        {
            return context.Response.WriteAsJsonAsync(_logLevel.State, ControlJsonContext.Readable.LogLevelState);
        }

        var query = context.Request.Query;
        if (!LogLevelControl.TryParseLevel(query["level"], out var level))
        {
            return TextAsync(context, StatusCodes.Status400BadRequest,
                "level must be one of Verbose (Trace), Debug, Information, Warning, Error, Fatal (Critical)\n");
        }

        TimeSpan? ttl = null;
        if (query.TryGetValue("ttl", out var ttlText))
        {
            if (!int.TryParse(ttlText, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds) || seconds is < 1 or > MaxTtlSeconds)
            {
                return TextAsync(context, StatusCodes.Status400BadRequest, $"ttl must be whole seconds from 1 to {MaxTtlSeconds}\n");
            }

            ttl = TimeSpan.FromSeconds(seconds);
        }

        var state = _logLevel.Set(level, ttl, "the loglevel endpoint");
        return context.Response.WriteAsJsonAsync(state, ControlJsonContext.Readable.LogLevelState);
    }

    private Task RuntimeAsync(HttpContext context) =>
        context.Response.WriteAsJsonAsync(RuntimeSnapshot.Capture(_time, _uptime, _page), ControlJsonContext.Readable.RuntimeSnapshot);

    private static Task AssetAsync(HttpContext context, LivePageAsset asset)
    {
        var response = context.Response;
        response.ContentType = asset.ContentType;
        response.ContentLength = asset.Content.Length;
        return HttpMethods.IsHead(context.Request.Method) ? Task.CompletedTask : response.Body.WriteAsync(asset.Content).AsTask();
    }

    /// <summary>The samples after <c>?since=</c> and the status, in one answer: one poll per interval while the page is shown.</summary>
    private StatusReport CaptureStatus() =>
        StatusReport.Capture(Version, _uptime, _readiness, _config, _proxyState, _accessLog, _tls, _page);

    private Task UiDataAsync(HttpContext context)
    {
        _ = long.TryParse(context.Request.Query["since"], NumberStyles.None, CultureInfo.InvariantCulture, out var since);
        var buffer = new ArrayBufferWriter<byte>(16 * 1024);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            _page.WriteSamples(writer, since);
            writer.WritePropertyName("status");
            JsonSerializer.Serialize(
                writer,
                CaptureStatus(),
                ControlJsonContext.Readable.StatusReport);
            writer.WriteEndObject();
        }

        context.Response.ContentType = "application/json; charset=utf-8";
        context.Response.ContentLength = buffer.WrittenCount;
        return context.Response.Body.WriteAsync(buffer.WrittenMemory).AsTask();
    }
}

/// <summary>Who may use a control endpoint.</summary>
internal enum ControlEndpointAccess
{
    /// <summary>Anyone: the probes.</summary>
    Public,

    /// <summary>The token rule of <see cref="ControlAccess"/>.</summary>
    Token,

    /// <summary>The token rule, or the live page's cookie (the page's endpoints only).</summary>
    TokenOrUiCookie,
}

/// <summary>One control endpoint: its methods, who may use it, and its handler.</summary>
internal sealed record ControlEndpoint(string Name, string[] Methods, ControlEndpointAccess Access, Func<HttpContext, Task> Handler)
{
    /// <summary>The value of an <c>Allow</c> header for a 405.</summary>
    public string Allow { get; } = string.Join(", ", Methods);

    public bool Accepts(string method)
    {
        foreach (var allowed in Methods)
        {
            if (HttpMethods.Equals(allowed, method))
            {
                return true;
            }
        }

        return false;
    }
}
