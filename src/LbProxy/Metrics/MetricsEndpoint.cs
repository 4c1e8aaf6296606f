using LbProxy.Edge;
using Microsoft.Extensions.Options;

namespace LbProxy.Metrics;

/// <summary>
/// Which endpoint answers <c>/metrics</c> (<see cref="MetricsOptions.Endpoint"/>), asked by the control-plane split
/// for each request, before routing, so that the answer never depends on a YARP route.
/// </summary>
internal sealed class MetricsEndpoint(IOptionsMonitor<MetricsOptions> options)
{
    /// <summary>True when <c>/metrics</c> answers on the endpoint the request came in on.</summary>
    public bool AnswersMetrics(HttpContext context) =>
        options.CurrentValue.Endpoint is not { Length: > 0 } name || IsNamed(context, name);

    /// <summary>True when the request came in on the metrics endpoint, which forwards nothing.</summary>
    public bool IsMetricsEndpoint(HttpContext context) =>
        options.CurrentValue.Endpoint is { Length: > 0 } name && IsNamed(context, name);

    private static bool IsNamed(HttpContext context, string name) =>
        string.Equals(EndpointNames.Of(context), name, StringComparison.OrdinalIgnoreCase);
}
