using System.Globalization;
using System.Text.Json.Serialization;
using LbProxy.Control;

namespace LbProxy.Logging;

/// <summary>
/// <c>GET /_lb/loglevel</c> shows the runtime log level; <c>PUT ?level=Debug[&amp;ttl=SECONDS]</c> moves it, for a
/// while when a ttl is given (token).
/// </summary>
internal sealed class LogLevelEndpoint(LogLevelControl logLevel) : IControlEndpoints
{
    private const int MaxTtlSeconds = 24 * 60 * 60;

    public void Map(IEndpointRouteBuilder control)
    {
        control.MapGet("/loglevel", context => ControlJson.WriteAsync(context, logLevel.State, LoggingJsonContext.Default.LogLevelState));
        control.MapPut("/loglevel", SetAsync);
    }

    private Task SetAsync(HttpContext context)
    {
        var query = context.Request.Query;
        if (!LogLevelControl.TryParseLevel(query["level"], out var level))
        {
            return BadRequestAsync(context, "level must be one of Verbose (Trace), Debug, Information, Warning, Error, Fatal (Critical)\n");
        }

        TimeSpan? ttl = null;
        if (query.TryGetValue("ttl", out var ttlText))
        {
            if (!int.TryParse(ttlText, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds) || seconds is < 1 or > MaxTtlSeconds)
            {
                return BadRequestAsync(context, $"ttl must be whole seconds from 1 to {MaxTtlSeconds}\n");
            }

            ttl = TimeSpan.FromSeconds(seconds);
        }

        var state = logLevel.Set(level, ttl, "the loglevel endpoint");
        return ControlJson.WriteAsync(context, state, LoggingJsonContext.Default.LogLevelState);
    }

    private static Task BadRequestAsync(HttpContext context, string text) =>
        ControlPlaneEndpoints.TextAsync(context, StatusCodes.Status400BadRequest, text);
}

/// <summary>Source-generated JSON of the loglevel endpoint (camelCase; the writer's conventions are Control's).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(LogLevelState))]
internal sealed partial class LoggingJsonContext : JsonSerializerContext;
