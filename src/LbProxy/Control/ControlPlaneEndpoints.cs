namespace LbProxy.Control;

/// <summary>Control's own endpoints: the probes (no token: probes carry none) and the status document.</summary>
internal sealed class ControlPlaneEndpoints(Readiness readiness, StatusDocument status) : IControlEndpoints
{
    private const string TextPlain = "text/plain; charset=utf-8";

    public void Map(IEndpointRouteBuilder control)
    {
        control.MapMethods("/healthz", [HttpMethods.Get, HttpMethods.Head], static context => TextAsync(context, StatusCodes.Status200OK, "ok"))
            .AllowAnyone();
        control.MapMethods("/readyz", [HttpMethods.Get, HttpMethods.Head], ReadyzAsync).AllowAnyone();
        control.MapGet("/status", context => ControlJson.WriteAsync(context, status.Write));
    }

    /// <summary>A short text answer, as the probes give.</summary>
    public static Task TextAsync(HttpContext context, int statusCode, string text)
    {
        context.Response.StatusCode = statusCode;
        context.Response.ContentType = TextPlain;
        return context.Response.WriteAsync(text);
    }

    private Task ReadyzAsync(HttpContext context) => readiness.IsReady
        ? TextAsync(context, StatusCodes.Status200OK, "ready")
        : TextAsync(context, StatusCodes.Status503ServiceUnavailable, readiness.IsDraining ? "draining" : "not ready");
}
