using System.Collections.Concurrent;
using System.Net.Sockets;
using LbProxy.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace LbProxy.Tests.Functional;

/// <summary>
/// What Kestrel's own certificate watcher (.NET 8+) does with each way a pair is replaced on disk, on a bare Kestrel
/// that reads the operator's files itself, as LbProxy would without its Tls stage. They pin down the gaps the stage
/// closes (TlsRotationTests runs the same cases through LbProxy); if a later Kestrel closes one, its case fails here.
/// </summary>
public sealed class KestrelCertificateWatcherTests : IDisposable
{
    private const string Name = "images.test";

    /// <summary>How long a change Kestrel does not act on is watched: many times what it takes when it does act.</summary>
    private static readonly TimeSpan Unnoticed = TimeSpan.FromSeconds(3);
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(20);

    private readonly ITestOutputHelper _output;
    private readonly TestCertificates _certificates = new();
    private readonly TlsLayout _layout;

    public KestrelCertificateWatcherTests(ITestOutputHelper output)
    {
        _output = output;
        _layout = new TlsLayout(_certificates);
    }

    public static TheoryData<string, string> Cases => new()
    {
        // case, what Kestrel serves to new handshakes afterwards: "new", "old" or "bad" (the bad pair itself)
        { "in-place, key first", "new" },
        { "atomic rename", "new" },
        { "kubernetes ..data swap", "new" },
        { "certificate before key", "old" },
        { "truncated, then whole", "new" },
        { "expired", "bad" },
        { "not yet valid", "bad" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Replace_Pair_KestrelServes(string replacement, string expected)
    {
        var kubernetes = replacement.StartsWith("kubernetes", StringComparison.Ordinal);
        var first = await _layout.AddAsync(Name, kubernetes);
        var log = new KestrelLog();
        await using var app = await StartBareKestrelAsync(log);
        Assert.Equal(first.Fingerprint, await TlsProbe.FingerprintAsync(_layout.HttpsPort, Name));

        var now = DateTimeOffset.UtcNow;
        var next = replacement switch
        {
            "expired" => _certificates.Leaf([Name], now.AddDays(-90), now.AddDays(-1)),
            "not yet valid" => _certificates.Leaf([Name], now.AddDays(1), now.AddDays(90)),
            _ => _certificates.Leaf([Name]),
        };
        using var refused = new RefusedConnections(_layout.HttpsPort);
        switch (replacement)
        {
            case "atomic rename":
                await _layout.ReplaceAsync(Name, next, Replacement.AtomicRename);
                break;
            case "kubernetes ..data swap":
                await _layout.ReplaceAsync(Name, next, Replacement.KubernetesSwap);
                break;
            case "certificate before key":
                // Kestrel reads the pair when the certificate changes, finds the old key and refuses it; the key's own
                // change is not watched.
                await File.WriteAllTextAsync(_layout.CertificatePath(Name), next.Certificate);
                await Poll.UntilAsync(() => log.Errors > 0, Bound, "Kestrel refusing the new certificate with the old key");
                await File.WriteAllTextAsync(_layout.KeyPath(Name), next.Key);
                break;
            case "truncated, then whole":
                await _layout.ReplaceAsync(Name, next, Replacement.Truncated);
                await Poll.UntilAsync(() => log.Errors > 0, Bound, "Kestrel refusing the truncated certificate");
                await File.WriteAllTextAsync(_layout.CertificatePath(Name), next.Certificate);
                break;
            default:
                await _layout.ReplaceAsync(Name, next, Replacement.InPlace);
                break;
        }

        var served = await Poll.TryUntilAsync(() => TlsProbe.FingerprintAsync(_layout.HttpsPort, Name), f => f == next.Fingerprint,
            expected == "old" ? Unnoticed : Bound);
        var seen = served.Last == next.Fingerprint ? (expected == "bad" ? "bad" : "new") : served.Last == first.Fingerprint ? "old" : "other";
        _output.WriteLine($"{replacement}: serves {seen}; connection attempts {refused.Attempts}, refused {refused.Count}; Kestrel errors logged: {log.Errors}");
        // Kestrel unbinds and binds the endpoint again to serve a new pair: a connection attempt in between is refused
        // (the count is shown, not asserted: the window is short and may fall between two attempts).
        Assert.Equal(expected, seen);
    }

    public void Dispose()
    {
        _layout.Dispose();
        _certificates.Dispose();
    }

    private async Task<WebApplication> StartBareKestrelAsync(KestrelLog log)
    {
        var builder = WebApplication.CreateBuilder();
        builder.Logging.ClearProviders();
        builder.Logging.AddProvider(log);
        var kestrel = _layout.Kestrel(Name);
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Kestrel:Endpoints:Https:Url"] = kestrel["Endpoints"]!["Https"]!["Url"]!.GetValue<string>(),
            ["Kestrel:Endpoints:Https:Certificate:Path"] = _layout.CertificatePath(Name),
            ["Kestrel:Endpoints:Https:Certificate:KeyPath"] = _layout.KeyPath(Name),
        });
        var app = builder.Build();
        app.MapGet("/", static () => "ok");
        await app.StartAsync();
        return app;
    }

    /// <summary>Errors Kestrel logs (a reload that could not load the pair among them).</summary>
    private sealed class KestrelLog : ILoggerProvider
    {
        private int _errors;

        public int Errors => Volatile.Read(ref _errors);

        public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

        public void Dispose()
        {
        }

        private sealed class Logger(KestrelLog owner, string category) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state)
                where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Error;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                if (logLevel >= LogLevel.Error && category.StartsWith("Microsoft.AspNetCore.Server.Kestrel", StringComparison.Ordinal))
                {
                    Interlocked.Increment(ref owner._errors);
                }
            }
        }
    }

    /// <summary>Connection attempts to a port in a tight loop, until disposed, counting the refused ones.</summary>
    private sealed class RefusedConnections : IDisposable
    {
        private readonly CancellationTokenSource _stop = new(TimeSpan.FromSeconds(60));
        private readonly Task _loop;
        private int _count;
        private int _attempts;

        public RefusedConnections(int port) => _loop = Task.Run(async () =>
        {
            while (!_stop.IsCancellationRequested)
            {
                using var tcp = new TcpClient();
                try
                {
                    await tcp.ConnectAsync(System.Net.IPAddress.Loopback, port, _stop.Token);
                }
                catch (SocketException)
                {
                    Interlocked.Increment(ref _count);
                }
                catch (OperationCanceledException)
                {
                    return;
                }

                Interlocked.Increment(ref _attempts);
                await Task.Delay(1, CancellationToken.None);   // a steady stream of new connections, not a busy loop
            }
        });

        public int Count => Volatile.Read(ref _count);

        public int Attempts => Volatile.Read(ref _attempts);

        public void Dispose()
        {
            _stop.Cancel();
            _loop.Wait(TimeSpan.FromSeconds(5));
            _stop.Dispose();
        }
    }
}
