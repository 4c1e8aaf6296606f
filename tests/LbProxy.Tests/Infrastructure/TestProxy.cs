using LbProxy.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;

namespace LbProxy.Tests.Infrastructure;

/// <summary>
/// A real LbProxy on Kestrel at 127.0.0.1:0, built through the same AddLbProxy / LoadAndApplyLbProxyConfigAsync /
/// UseLbProxy as Program.cs, reading a real config file written to a temporary directory. Its access log
/// is captured in <see cref="AccessLog"/> rather than written to the test host's stdout.
/// </summary>
internal sealed class TestProxy : IAsyncDisposable
{
    /// <summary>Arguments that make the config watcher quick: a 50 ms settle delay and a 500 ms poll.</summary>
    public static readonly string[] FastReload =
        ["--LbProxy:Config:SettleDelay", "00:00:00.050", "--LbProxy:Config:PollInterval", "00:00:00.500"];

    private TestProxy(WebApplication app, string configPath, Uri address, CapturedAccessLog accessLog)
    {
        App = app;
        ConfigPath = configPath;
        Address = address;
        AccessLog = accessLog;
        Client = new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false, UseCookies = false })
        {
            BaseAddress = address,
            Timeout = TimeSpan.FromSeconds(30),
        };
    }

    public WebApplication App { get; }

    public string ConfigPath { get; }

    public Uri Address { get; }

    public HttpClient Client { get; }

    public CapturedAccessLog AccessLog { get; }

    public IServiceProvider Services => App.Services;

    public static Task<TestProxy> StartAsync(string configJson, params string[] extraArgs) =>
        StartAsync(configJson, beforeAccessLog: null, extraArgs);

    /// <param name="beforeAccessLog">Middleware of the test's own, placed first in the pipeline.</param>
    public static async Task<TestProxy> StartAsync(string configJson, Action<WebApplication>? beforeAccessLog, params string[] extraArgs)
    {
        var directory = Directory.CreateTempSubdirectory("lbproxy-test-");
        var configPath = Path.Combine(directory.FullName, "yarp.json");
        await File.WriteAllTextAsync(configPath, configJson);
        return await StartWithFileAsync(configPath, beforeAccessLog, extraArgs);
    }

    /// <summary>Starts on a config file the test laid out itself; its directory is deleted on dispose.</summary>
    public static Task<TestProxy> StartWithFileAsync(string configPath, params string[] extraArgs) =>
        StartWithFileAsync(configPath, beforeAccessLog: null, extraArgs);

    /// <param name="addServices">Services of the test's own, registered after every stage's (a stage of the test's).</param>
    public static async Task<TestProxy> StartAsync(string configJson, Action<IServiceCollection> addServices, params string[] extraArgs)
    {
        var directory = Directory.CreateTempSubdirectory("lbproxy-test-");
        var configPath = Path.Combine(directory.FullName, "yarp.json");
        await File.WriteAllTextAsync(configPath, configJson);
        return await StartWithFileAsync(configPath, beforeAccessLog: null, extraArgs, addServices);
    }

    private static async Task<TestProxy> StartWithFileAsync(
        string configPath, Action<WebApplication>? beforeAccessLog, string[] extraArgs, Action<IServiceCollection>? addServices = null)
    {
        // No grace period on stop: a test proxy has no outer balancer to wait for.
        string[] args = ["--config", configPath, "--urls", "http://127.0.0.1:0", "--LbProxy:Logging:Level", "Warning",
            "--LbProxy:Control:ShutdownGrace", "00:00:00", .. extraArgs];

        var builder = WebApplication.CreateBuilder(args);
        builder.AddLbProxy();
        var accessLog = new CapturedAccessLog();
        builder.Services.AddSingleton(accessLog.CreateOutput());
        addServices?.Invoke(builder.Services);
        var app = builder.Build();
        var errors = await app.LoadAndApplyLbProxyConfigAsync();
        if (errors.Count > 0)
        {
            await app.DisposeAsync();
            throw new InvalidOperationException("test config is invalid:\n" + string.Join("\n", errors));
        }

        beforeAccessLog?.Invoke(app);
        app.UseLbProxy();
        await app.StartAsync();
        var addresses = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>();
        return new TestProxy(app, configPath, new Uri(addresses.Addresses.First()), accessLog);
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await App.StopAsync();
        await App.DisposeAsync();
        try
        {
            Directory.Delete(Path.GetDirectoryName(ConfigPath)!, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
