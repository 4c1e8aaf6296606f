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
/// <c>/healthz</c>, echoes requests at <c>/echo/...</c>, and names itself in <c>X-Origin-Id</c>. With
/// <see cref="ConverterSettings"/> it behaves as an image converter with a fixed pool of workers. It counts its
/// image requests (<see cref="Stats"/>, <c>/_origin/stats</c>). The demo, the tests and the benchmark all use it.
/// </summary>
public sealed class SampleOriginServer : IAsyncDisposable
{
    public const string OriginIdHeader = "X-Origin-Id";

    private readonly WebApplication _app;
    private readonly SemaphoreSlim? _workers;
    private long _requestCount;

    private SampleOriginServer(string id, WebApplication app, ConverterSettings converter)
    {
        Id = id;
        _app = app;
        Converter = converter;
        _workers = converter.Enabled ? new SemaphoreSlim(converter.Workers, converter.Workers) : null;
    }

    /// <summary>The worker pool and service times, or <see cref="ConverterSettings.None"/>.</summary>
    public ConverterSettings Converter { get; }

    /// <summary>Image requests: in flight now, the highest concurrency seen, and counts by format class.</summary>
    public OriginStats Stats { get; } = new();

    public string Id { get; }

    public SampleOriginBehavior Behavior { get; } = new();

    /// <summary>The address the server listens on, with the real port when 0 was asked for.</summary>
    public Uri Address { get; private set; } = null!;

    /// <summary>Requests answered, not counting <c>/healthz</c> and <c>/_origin</c> control calls.</summary>
    public long RequestCount => Interlocked.Read(ref _requestCount);

    /// <summary>Starts an origin; <paramref name="url"/> such as <c>http://127.0.0.1:0</c>.</summary>
    public static Task<SampleOriginServer> StartAsync(string id, string url, CancellationToken cancellationToken = default) =>
        StartAsync(id, url, ConverterSettings.None, cancellationToken);

    /// <summary>Starts an origin that serves images as a converter with <paramref name="converter"/>'s workers.</summary>
    public static async Task<SampleOriginServer> StartAsync(string id, string url, ConverterSettings converter, CancellationToken cancellationToken = default)
    {
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.WebHost.UseKestrelCore().UseUrls(url);
        builder.WebHost.ConfigureKestrel(static kestrel => kestrel.AddServerHeader = false);
        var app = builder.Build();
        var server = new SampleOriginServer(id, app, converter);
        app.Run(server.HandleAsync);
        await app.StartAsync(cancellationToken);
        var addresses = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>();
        server.Address = new Uri(addresses.Addresses.First());
        return server;
    }

    public Task StopAsync() => _app.StopAsync();

    public async ValueTask DisposeAsync()
    {
        await _app.DisposeAsync();
        _workers?.Dispose();
    }

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

        if (path.StartsWith("/_origin/stats", StringComparison.OrdinalIgnoreCase))
        {
            await StatsAsync(context);
            return;
        }

        Interlocked.Increment(ref _requestCount);
        try
        {
            await ServeAsync(context, path);
        }
        catch when (!context.RequestAborted.IsCancellationRequested)
        {
            Stats.ServerError(); // Kestrel answers 500, or resets a response already started; a client gone is no error
            throw;
        }

        if (response.StatusCode >= 500)
        {
            Stats.ServerError();
        }
    }

    private async Task ServeAsync(HttpContext context, string path)
    {
        var request = context.Request;
        var response = context.Response;
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

        var asked = request.Headers[ImageFormats.FormatHeader].ToString();
        var image = ImageCatalog.Shared.Find(path, asked);
        if (image is null)
        {
            response.StatusCode = StatusCodes.Status404NotFound;
            await response.WriteAsync("not found");
            return;
        }

        var formatClass = ClassOf(path, asked);
        Stats.Enter(formatClass);
        try
        {
            await ConvertAsync(formatClass, context.RequestAborted);
            await WriteImageAsync(context, image);
        }
        finally
        {
            Stats.Leave();
        }
    }

    /// <summary>Holds a worker for the class's service time (times the slow factor), after waiting for one if all are busy.</summary>
    private async Task ConvertAsync(string formatClass, CancellationToken aborted)
    {
        if (_workers is null)
        {
            return;
        }

        await _workers.WaitAsync(aborted);
        try
        {
            var ms = Converter.ServiceMsOf(formatClass) * Behavior.SlowFactor;
            if (ms > 0)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(ms), aborted);
            }
        }
        finally
        {
            _workers.Release();
        }
    }

    /// <summary>The class the origin serves: the one the proxy asked for, else the one the URL's extension names.</summary>
    private static string ClassOf(string path, string asked) =>
        asked is ImageFormats.Avif or ImageFormats.Webp or ImageFormats.Original
            ? asked
            : ImageFormats.ClassOfExtension(Path.GetExtension(path.AsSpan())) ?? ImageFormats.Original;

    private static async Task WriteImageAsync(HttpContext context, ImageVariant image)
    {
        var request = context.Request;
        var response = context.Response;

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
            if (query.ContainsKey("slowFactor"))
            {
                if (!double.TryParse(query["slowFactor"], NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var factor) || factor <= 0 || factor > 1000)
                {
                    context.Response.StatusCode = StatusCodes.Status400BadRequest;
                    await context.Response.WriteAsync("slowFactor must be a number above 0 and at most 1000\n");
                    return;
                }

                Behavior.SlowFactor = factor;
            }
        }

        context.Response.ContentType = "text/plain";
        await context.Response.WriteAsync(string.Create(CultureInfo.InvariantCulture,
            $"fail={Behavior.FailStatus} delayMs={Behavior.DelayMs} drop={Behavior.DropConnections} unhealthy={Behavior.Unhealthy} slowFactor={Behavior.SlowFactor}\n"));
    }

    private async Task StatsAsync(HttpContext context)
    {
        if (HttpMethods.IsDelete(context.Request.Method))
        {
            Stats.Reset();
        }
        else if (!HttpMethods.IsGet(context.Request.Method))
        {
            context.Response.StatusCode = StatusCodes.Status405MethodNotAllowed;
            return;
        }

        context.Response.ContentType = "application/json";
        await JsonSerializer.SerializeAsync(context.Response.Body, Stats.Snapshot(), OriginStatsJsonContext.Default.OriginStatsDocument, context.RequestAborted);
    }

    private static int ParseInt(string? value, int current) =>
        int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var parsed) ? parsed : current;

    private static bool ParseBool(string? value, bool current) =>
        bool.TryParse(value, out var parsed) ? parsed : current;
}
