using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

namespace LbProxy.Tests.Infrastructure;

/// <summary>
/// A Kestrel origin at 127.0.0.1:0 for the hot set's tests: it counts requests per key (path and the
/// <c>X-Image-Format</c> the proxy sent) and answers what the query asks. The body is
/// <c>{format}|{path}|{n}|</c> (n: this origin's request number, so two answers never have the same bytes) padded
/// with '.' to <c>size</c> bytes (default 4096). Query: <c>cc</c> the <c>Cache-Control</c> (default
/// <c>public, max-age=60</c>; <c>none</c> for no header), <c>cookie=1</c> a <c>Set-Cookie</c>, <c>status</c>,
/// <c>chunked=1</c> no <c>Content-Length</c>, <c>vary</c> a <c>Vary</c>, <c>hold=1</c> the response headers wait
/// for <see cref="Release"/>, <c>half=1</c> the first half of the body is sent and the rest waits for
/// <see cref="ReleaseRest"/>. Every answer has <c>ETag: "{format}-{path}"</c> and a fixed <c>Last-Modified</c>, but
/// with <c>validators=none</c> (then a refresh gets new bytes, not a 304).
/// <see cref="Failing"/> makes every answer a 500, <see cref="Gone"/> a 404 with <c>Cache-Control: no-store</c>.
/// </summary>
internal sealed class CountingOrigin : IAsyncDisposable
{
    public static readonly DateTimeOffset LastModified = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private readonly WebApplication _app;
    private readonly ConcurrentDictionary<string, int> _counts = new();
    private TaskCompletionSource _held = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private TaskCompletionSource _rest = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _requests;

    private CountingOrigin(WebApplication app) => _app = app;

    public Uri Address { get; private set; } = null!;

    public int Requests => Volatile.Read(ref _requests);

    public volatile bool Failing;

    public volatile bool Gone;

    public static async Task<CountingOrigin> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var origin = new CountingOrigin(app);
        app.Run(origin.AnswerAsync);
        await app.StartAsync();
        origin.Address = new Uri(app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First());
        return origin;
    }

    /// <summary>Requests seen for one path and format class (<c>""</c> when the proxy sent none).</summary>
    public int CountOf(string path, string format = "original") => _counts.TryGetValue($"{path}|{format}", out var n) ? n : 0;

    public int Keys => _counts.Count;

    /// <summary>Lets every held response (<c>hold=1</c>) send its headers, and every later one at once.</summary>
    public void Release() => _held.TrySetResult();

    /// <summary>Lets every half-sent body (<c>half=1</c>) finish.</summary>
    public void ReleaseRest() => _rest.TrySetResult();

    public void Hold()
    {
        _held = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _rest = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    public async ValueTask DisposeAsync()
    {
        Release();
        ReleaseRest();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    private async Task AnswerAsync(HttpContext context)
    {
        var request = context.Request;
        var response = context.Response;
        var format = request.Headers["X-Image-Format"].ToString();
        var path = request.Path.Value ?? "/";
        if (path == "/healthz")
        {
            await response.WriteAsync("ok");
            return;
        }

        var n = Interlocked.Increment(ref _requests);
        _counts.AddOrUpdate($"{path}|{format}", 1, static (_, c) => c + 1);
        var query = request.Query;
        if (query["hold"] == "1")
        {
            await _held.Task.WaitAsync(TimeSpan.FromSeconds(60));
        }

        if (Gone)
        {
            response.StatusCode = StatusCodes.Status404NotFound;
            response.Headers.CacheControl = "no-store";
            await response.WriteAsync("gone");
            return;
        }

        var etag = $"\"{format}-{path}\"";
        var validators = query["validators"] != "none";
        if (validators && request.Headers.IfNoneMatch == etag && !Failing)
        {
            response.StatusCode = StatusCodes.Status304NotModified;
            response.Headers.ETag = etag;
            response.Headers.CacheControl = CacheControlOf(query);
            return;
        }

        response.StatusCode = Failing ? 500 : int.TryParse(query["status"], CultureInfo.InvariantCulture, out var status) ? status : 200;
        var cacheControl = CacheControlOf(query);
        if (cacheControl.Length > 0)
        {
            response.Headers.CacheControl = cacheControl;
        }

        if (query["cookie"] == "1")
        {
            response.Headers.SetCookie = $"session={n}; Path=/";
        }

        if (query["vary"].Count > 0)
        {
            response.Headers.Vary = query["vary"].ToString();
        }

        if (validators)
        {
            response.Headers.ETag = etag;
            response.Headers.LastModified = LastModified.ToString("R", CultureInfo.InvariantCulture);
        }

        response.ContentType = format is "avif" or "webp" ? $"image/{format}" : "image/jpeg";
        var size = int.TryParse(query["size"], CultureInfo.InvariantCulture, out var s) ? s : 4096;
        var body = BodyOf(format, path, n, size);
        if (query["chunked"] != "1")
        {
            response.ContentLength = body.Length;
        }

        if (query["half"] == "1")
        {
            await response.Body.WriteAsync(body.AsMemory(0, body.Length / 2));
            await response.Body.FlushAsync();
            await _rest.Task.WaitAsync(TimeSpan.FromSeconds(60));
            await response.Body.WriteAsync(body.AsMemory(body.Length / 2));
            return;
        }

        await response.Body.WriteAsync(body);
    }

    private static string CacheControlOf(IQueryCollection query) =>
        query["cc"].Count == 0 ? "public, max-age=60" : query["cc"] == "none" ? "" : query["cc"].ToString();

    /// <summary>The body an answer has: its format, path and request number, then dots.</summary>
    public static byte[] BodyOf(string format, string path, int n, int size)
    {
        var head = Encoding.ASCII.GetBytes($"{format}|{path}|{n}|");
        var body = new byte[Math.Max(size, head.Length)];
        body.AsSpan().Fill((byte)'.');
        head.CopyTo(body, 0);
        return body;
    }

    /// <summary>The format and request number a body names.</summary>
    public static (string Format, int N) Parse(byte[] body)
    {
        var parts = Encoding.ASCII.GetString(body, 0, Math.Min(body.Length, 512)).Split('|');
        return (parts[0], int.Parse(parts[2], CultureInfo.InvariantCulture));
    }
}
