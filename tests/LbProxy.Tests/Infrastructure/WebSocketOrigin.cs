using System.Collections.Concurrent;
using System.Net.WebSockets;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;

namespace LbProxy.Tests.Infrastructure;

/// <summary>
/// A WebSocket origin on its own Kestrel server at 127.0.0.1:0 (ASP.NET Core's WebSockets middleware): a WebSocket
/// request is accepted and every message echoed back; any other request gets a 200 with <c>plain</c>. It keeps the
/// <c>Upgrade</c> header of each request it saw (empty when there was none).
/// </summary>
internal sealed class WebSocketOrigin : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<string> _upgrades = new();

    private WebSocketOrigin(WebApplication app) => _app = app;

    public Uri Address { get; private set; } = null!;

    /// <summary>The <c>Upgrade</c> header of each request received, in order; "" for a request without one.</summary>
    public IReadOnlyCollection<string> UpgradeHeaders => _upgrades;

    public static async Task<WebSocketOrigin> StartAsync()
    {
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.WebHost.UseKestrelCore().UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        var origin = new WebSocketOrigin(app);
        app.UseWebSockets();
        app.Run(origin.HandleAsync);
        await app.StartAsync();
        var addresses = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>();
        origin.Address = new Uri(addresses.Addresses.First());
        return origin;
    }

    private async Task HandleAsync(HttpContext context)
    {
        _upgrades.Enqueue(context.Request.Headers.Upgrade.ToString());
        if (!context.WebSockets.IsWebSocketRequest)
        {
            await context.Response.WriteAsync("plain");
            return;
        }

        using var socket = await context.WebSockets.AcceptWebSocketAsync();
        var buffer = new byte[4096];
        while (true)
        {
            var received = await socket.ReceiveAsync(buffer, context.RequestAborted);
            if (received.MessageType == WebSocketMessageType.Close)
            {
                await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, null, context.RequestAborted);
                return;
            }

            await socket.SendAsync(buffer.AsMemory(0, received.Count), received.MessageType, received.EndOfMessage, context.RequestAborted);
        }
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();
}
