using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Yarp.ReverseProxy.Forwarder;

namespace LbProxy.Edge;

/// <summary>
/// Closes the whole HTTP/2 connection of a client that stopped taking response bytes. Kestrel times the writes of a
/// connection (<c>MinResponseDataRate</c>), but not a stream waiting for a flow-control window: a client that opens
/// streams and never sends a WINDOW_UPDATE holds every one of them, and the origin responses behind them, for as long
/// as it keeps the connection. YARP gives up such a stream after its activity timeout (the cluster's
/// <c>HttpRequest:ActivityTimeout</c>, else <c>LbProxy:Forwarding:ActivityTimeout</c>) and reports a response-body
/// write cancelled; Kestrel then resets only that stream, and the client may open the next one. Here that report
/// closes the connection instead, so one stalled client costs at most one connection's streams for one timeout.
/// YARP tells the cases apart: the activity timeout firing while it writes to the client is <c>ResponseBodyClient</c>
/// with a cancellation; while it reads an origin gone silent, <c>ResponseBodyDestination</c>; a client that reset its
/// stream or went away, <c>ResponseBodyCanceled</c> or an <c>IOException</c>. Only the first closes the connection.
/// </summary>
internal static partial class StalledClientCut
{
    private static readonly object ConnectionKey = new();

    /// <summary>Connection middleware: keeps the connection where its requests find it, to abort it whole.</summary>
    public static ConnectionDelegate OnConnection(ConnectionDelegate next) => context =>
    {
        context.Items[ConnectionKey] = context;
        return next(context);
    };

    /// <summary>
    /// Proxy middleware: after the forward, closes the connection of an HTTP/2 client that stalled it. HTTP/1.x
    /// requests (one stream per connection, timed by Kestrel) pass straight through, with no await of their own.
    /// </summary>
    public static Task InvokeAsync(HttpContext context, RequestDelegate next) =>
        HttpProtocol.IsHttp11(context.Request.Protocol) || HttpProtocol.IsHttp10(context.Request.Protocol)
            ? next(context)
            : ForwardThenCutIfStalledAsync(context, next);

    private static async Task ForwardThenCutIfStalledAsync(HttpContext context, RequestDelegate next)
    {
        await next(context);
        if (context.Features.Get<IForwarderErrorFeature>() is { Error: ForwarderError.ResponseBodyClient, Exception: OperationCanceledException }
            && context.Features.Get<IConnectionItemsFeature>()?.Items.TryGetValue(ConnectionKey, out var value) == true
            && value is ConnectionContext connection)
        {
            var logger = context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(StalledClientCut));
            Log.StalledClientCut(logger, context.Connection.RemoteIpAddress, context.Request.Protocol, context.Request.Path);

            connection.Abort(new ConnectionAbortedException("The client took no response bytes for the activity timeout."));
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = LogEvents.StalledClientCut, Level = LogLevel.Information,
            Message = "Closed the {Protocol} connection of {Client}: a response to {Path} could not be written for the activity timeout (the client takes no bytes)")]
        public static partial void StalledClientCut(ILogger logger, System.Net.IPAddress? client, string protocol, PathString path);
    }
}
