using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.AspNetCore.Http.Features;

namespace LbProxy.SampleOrigin;

/// <summary>
/// A small image origin on its own Kestrel server: serves the image catalogue, answers
/// <c>/healthz</c>, echoes requests at <c>/echo/...</c>, and names itself in <c>X-Origin-Id</c>.
/// The demo, the tests and the benchmark all use it.
/// </summary>
public sealed class SampleOriginServer : IAsyncDisposable
{
    public const string OriginIdHeader = "X-Origin-Id";

    private readonly WebApplication _app;
    private long _requestCount;

    private SampleOriginServer(string id, WebApplication app)
    {
        Id = id;
        _app = app;
    }

    public string Id { get; }

    public SampleOriginBehavior Behavior { get; } = new();

    /// <summary>The address the server listens on, with the real port when 0 was asked for.</summary>
    public Uri Address { get; private set; } = null!;

    /// <summary>Requests answered, not counting <c>/healthz</c> and <c>/_origin</c> control calls.</summary>
    public long RequestCount => Interlocked.Read(ref _requestCount);

    /// <summary>Starts an origin; <paramref name="url"/> such as <c>http://127.0.0.1:0</c>.</summary>
    public static async Task<SampleOriginServer> StartAsync(string id, string url, CancellationToken cancellationToken = default)
    {
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.WebHost.UseKestrelCore().UseUrls(url);
        builder.WebHost.ConfigureKestrel(static kestrel => kestrel.AddServerHeader = false);
        var app = builder.Build();
        var server = new SampleOriginServer(id, app);
        app.Run(server.HandleAsync);
        await app.StartAsync(cancellationToken);
        var addresses = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>();
        server.Address = new Uri(addresses.Addresses.First());
        return server;
    }

    public Task StopAsync() => _app.StopAsync();

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();

    private async Task HandleAsync(HttpContext context)
    {
        var request = context.Request;
        var response = context.Response;
        response.Headers[OriginIdHeader] = Id;
        var path = request.Path.Value ?? "/";

        if (path.Equals("/healthz", StringComparison.OrdinalIgnoreCase))
        {
            response.StatusCode = Behavior.Unhealthy ? StatusCodes.Status503ServiceUnavailable : StatusCodes.Status200OK;
            await response.WriteAsync(Behavior.Unhealthy ? "unhealthy" : "ok");
            return;
        }

        if (path.StartsWith("/_origin/behavior", StringComparison.OrdinalIgnoreCase))
        {
            await ChangeBehaviorAsync(context);
            return;
        }

        Interlocked.Increment(ref _requestCount);
        if (Behavior.DropConnections)
        {
            context.Abort();
            return;
        }

        if (Behavior.DelayMs > 0)
        {
            await Task.Delay(Behavior.DelayMs, context.RequestAborted);
        }

        if (Behavior.FailStatus != 0)
        {
            response.StatusCode = Behavior.FailStatus;
            await response.WriteAsync($"origin {Id} told to fail");
            return;
        }

        if (path.StartsWith("/echo", StringComparison.OrdinalIgnoreCase))
        {
            await EchoAsync(context);
            return;
        }

        if (!HttpMethods.IsGet(request.Method) && !HttpMethods.IsHead(request.Method))
        {
            response.StatusCode = StatusCodes.Status405MethodNotAllowed;
            return;
        }

        var image = ImageCatalog.Shared.Find(path, request.Headers[ImageFormats.FormatHeader].ToString());
        if (image is null)
        {
            response.StatusCode = StatusCodes.Status404NotFound;
            await response.WriteAsync("not found");
            return;
        }

        response.ContentType = image.ContentType;
        response.ContentLength = image.Bytes.Length;
        response.Headers.ETag = image.ETag;
        response.Headers.CacheControl = "public, max-age=3600";
        if (request.Headers.IfNoneMatch == image.ETag)
        {
            response.StatusCode = StatusCodes.Status304NotModified;
            response.ContentLength = null;
            return;
        }

        if (HttpMethods.IsGet(request.Method))
        {
            await response.Body.WriteAsync(image.Bytes, context.RequestAborted);
        }
    }

    private async Task EchoAsync(HttpContext context)
    {
        var request = context.Request;
        var headers = new SortedDictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var (name, values) in request.Headers)
        {
            headers[name] = values.ToString();
        }

        using var body = new StreamReader(request.Body);
        var echo = new EchoResponse(Id, request.Method, request.Path.Value ?? "", request.QueryString.Value ?? "",
            headers, await body.ReadToEndAsync(context.RequestAborted));
        context.Response.ContentType = "application/json";
        await JsonSerializer.SerializeAsync(context.Response.Body, echo, EchoJsonContext.Default.EchoResponse, context.RequestAborted);
    }

    private async Task ChangeBehaviorAsync(HttpContext context)
    {
        if (HttpMethods.IsDelete(context.Request.Method))
        {
            Behavior.Reset();
        }
        else if (HttpMethods.IsPut(context.Request.Method))
        {
            var query = context.Request.Query;
            Behavior.FailStatus = ParseInt(query["fail"], Behavior.FailStatus);
            Behavior.DelayMs = ParseInt(query["delayMs"], Behavior.DelayMs);
            Behavior.DropConnections = ParseBool(query["drop"], Behavior.DropConnections);
            Behavior.Unhealthy = ParseBool(query["unhealthy"], Behavior.Unhealthy);
        }

        context.Response.ContentType = "text/plain";
        await context.Response.WriteAsync(
            $"fail={Behavior.FailStatus} delayMs={Behavior.DelayMs} drop={Behavior.DropConnections} unhealthy={Behavior.Unhealthy}\n");
    }

    private static int ParseInt(string? value, int current) =>
        int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var parsed) ? parsed : current;

    private static bool ParseBool(string? value, bool current) =>
        bool.TryParse(value, out var parsed) ? parsed : current;
}
