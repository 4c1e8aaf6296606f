using System.Globalization;
using System.Reflection;
using LbProxy.AccessLog;
using LbProxy.Configuration;
using LbProxy.Diagnostics;
using LbProxy.Logging;
using LbProxy.Tls;
using Yarp.ReverseProxy;

namespace LbProxy.Control;

/// <summary>
/// The control endpoints by their path below the prefix, with their handlers, built once. healthz and readyz
/// are public (probes carry no token); the rest need the token.
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

    public ControlEndpointTable(
        Readiness readiness,
        ConfigState config,
        IProxyStateLookup proxyState,
        AccessLogReport accessLog,
        LogLevelControl logLevel,
        ProcessUptime uptime,
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
        Endpoints = new Dictionary<string, ControlEndpoint>(StringComparer.OrdinalIgnoreCase)
        {
            ["/healthz"] = new("healthz", [HttpMethods.Get, HttpMethods.Head], false, HealthzAsync),
            ["/readyz"] = new("readyz", [HttpMethods.Get, HttpMethods.Head], false, ReadyzAsync),
            ["/status"] = new("status", [HttpMethods.Get], true, StatusAsync),
            ["/loglevel"] = new("loglevel", [HttpMethods.Get, HttpMethods.Put], true, LogLevelAsync),
            ["/runtime"] = new("runtime", [HttpMethods.Get], true, RuntimeAsync),
        };
    }

    public IReadOnlyDictionary<string, ControlEndpoint> Endpoints { get; }

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
            StatusReport.Capture(Version, _uptime, _readiness, _config, _proxyState, _accessLog, _tls),
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
        context.Response.WriteAsJsonAsync(RuntimeSnapshot.Capture(_time, _uptime), ControlJsonContext.Readable.RuntimeSnapshot);
}

/// <summary>One control endpoint: its methods, whether it needs the token, and its handler.</summary>
internal sealed record ControlEndpoint(string Name, string[] Methods, bool RequiresToken, Func<HttpContext, Task> Handler)
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
