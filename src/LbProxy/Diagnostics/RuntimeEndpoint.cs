using System.Text.Json.Serialization;
using LbProxy.Control;

namespace LbProxy.Diagnostics;

/// <summary><c>GET /_lb/runtime</c>: the runtime's counts at this moment, the newest sample and the watchdog (token).</summary>
internal sealed class RuntimeEndpoint(TimeProvider time, ProcessUptime uptime, LivePage page) : IControlEndpoints
{
    public void Map(IEndpointRouteBuilder control) =>
        control.MapGet("/runtime", context =>
            ControlJson.WriteAsync(context, RuntimeSnapshot.Capture(time, uptime, page), DiagnosticsJsonContext.Default.RuntimeSnapshot));
}

/// <summary>Source-generated JSON of this stage's answers and status section (camelCase; the writer's conventions are Control's).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(RuntimeSnapshot))]
[JsonSerializable(typeof(WatchdogStatus))]
[JsonSerializable(typeof(RuntimeCensusAnswer))]
internal sealed partial class DiagnosticsJsonContext : JsonSerializerContext;
