using System.Globalization;
using LbProxy.Control;

namespace LbProxy.Diagnostics;

/// <summary>
/// <c>GET /_lb/runtime/timers[?top=N]</c>: the live timers grouped by owner and the thread-pool queue grouped by work
/// item, taken now (token). Costs nothing until asked; one census at a time (<see cref="RuntimeCensus"/>).
/// </summary>
internal sealed class CensusEndpoint : IControlEndpoints
{
    public const int DefaultTop = 20;
    public const int MaxTop = 1000;

    public void Map(IEndpointRouteBuilder control) => control.MapGet("/runtime/timers", context =>
    {
        var top = DefaultTop;
        if (context.Request.Query.TryGetValue("top", out var text)
            && (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out top) || top is < 1 or > MaxTop))
        {
            return ControlPlaneEndpoints.TextAsync(context, StatusCodes.Status400BadRequest, $"top must be a whole number from 1 to {MaxTop}\n");
        }

        var answer = new RuntimeCensusAnswer(RuntimeCensus.TakeTimers(top), RuntimeCensus.TakeQueue(top));
        return ControlJson.WriteAsync(context, answer, DiagnosticsJsonContext.Default.RuntimeCensusAnswer);
    });
}

/// <summary>The answer of <c>/_lb/runtime/timers</c>.</summary>
internal sealed record RuntimeCensusAnswer(TimerCensus Timers, QueueCensus ThreadPoolQueue);
