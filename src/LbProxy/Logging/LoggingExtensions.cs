using LbProxy.Configuration;
using LbProxy.Control;
using Serilog;
using Serilog.Core;
using Serilog.Events;

namespace LbProxy.Logging;

internal static class LoggingExtensions
{
    private const string ConsoleTemplate = "[{Timestamp:yyyy-MM-dd HH:mm:ss} {Level:u3}] {SourceContext}: {Message:lj}{NewLine}{Exception}";

    /// <summary>
    /// Serilog to the console with one level switch, which the loglevel endpoint and SIGUSR1/SIGUSR2 move at
    /// runtime. Framework and YARP per-request chatter is held at Warning: at an edge it would drown everything;
    /// YARP's follows the switch once it is at Debug.
    /// </summary>
    public static WebApplicationBuilder AddLbProxyLogging(this WebApplicationBuilder builder)
    {
        var options = builder.Configuration.GetSection(LoggingOptions.SectionName).Get<LoggingOptions>() ?? new LoggingOptions();
        var levelSwitch = new LoggingLevelSwitch(options.Level);
        // YARP's own messages (its forwarder logs each request at Information) follow the switch down to Debug
        // and below, where an operator asked for per-request detail, and stay at Warning above it.
        var yarpSwitch = new LoggingLevelSwitch(YarpLevel(options.Level));
        // YARP warns twice, in the same words, for each request of a cluster with no available destination: once in its
        // load-balancing middleware and again in its forwarder middleware, which answers the 503. The forwarder's stays;
        // the load balancer's shows at Debug and below only.
        var yarpRepeatSwitch = new LoggingLevelSwitch(YarpRepeatLevel(options.Level));
        levelSwitch.MinimumLevelChanged += (_, changed) =>
        {
            yarpSwitch.MinimumLevel = YarpLevel(changed.NewLevel);
            yarpRepeatSwitch.MinimumLevel = YarpRepeatLevel(changed.NewLevel);
        };
        // Framework sources log at Warning and above, or above the configured level when that is higher.
        var framework = (LogEventLevel)Math.Max((int)LogEventLevel.Warning, (int)options.Level);
        builder.Services.AddSingleton(levelSwitch);
        builder.Services.AddLbProxyOptions<LoggingOptions, LoggingOptionsValidator>(LoggingOptions.SectionName, static (section, options) => section.Bind(options));
        builder.Services.AddSingleton<LogLevelControl>();
        builder.Services.AddControlEndpoints<LogLevelEndpoint>();
        builder.Services.AddHostedService<LogLevelSignals>();
        builder.Services.AddSerilog(configuration => configuration
            .MinimumLevel.ControlledBy(levelSwitch)
            .MinimumLevel.Override("Microsoft", framework)
            .MinimumLevel.Override("Microsoft.Hosting.Lifetime", options.Level)
            .MinimumLevel.Override("Yarp", yarpSwitch)
            .MinimumLevel.Override(YarpLoadBalancingCategory, yarpRepeatSwitch)
            // Keys are never used (no cookies, no antiforgery); its "no XML encryptor" warning is noise.
            .MinimumLevel.Override("Microsoft.AspNetCore.DataProtection", (LogEventLevel)Math.Max((int)LogEventLevel.Error, (int)options.Level))
            // ASP.NET Core starts an Activity and a log scope for every request whenever this category is enabled at
            // any level, and the upstream HttpClient then replaces the traceparent it finds with one of its own. With no
            // tracing configured no one reads them; the category itself only logs each request start and end
            // (Information), which is never written here. Off, a request costs neither, and a client's trace context
            // passes to the origin unchanged. Configured tracing (an ActivityListener) still gets its Activity.
            .MinimumLevel.Override("Microsoft.AspNetCore.Hosting.Diagnostics", LevelAlias.Off)
            // Repeats held back first, then queued: a request never waits for stdout (Logging/BackgroundLogSink).
            .WriteTo.Sink(new RepeatLimitingSink(
                new BackgroundLogSink(new LoggerConfiguration().MinimumLevel.Verbose()
                    .WriteTo.Console(outputTemplate: ConsoleTemplate, formatProvider: System.Globalization.CultureInfo.InvariantCulture).CreateLogger()),
                options.RepeatLimit,
                options.RepeatWindow < TimeSpan.FromSeconds(1) ? TimeSpan.FromSeconds(1) : options.RepeatWindow,
                TimeProvider.System)));
        return builder;
    }

    /// <summary>The category of YARP's load-balancing middleware, whose one warning the forwarder's repeats.</summary>
    internal const string YarpLoadBalancingCategory = "Yarp.ReverseProxy.LoadBalancing.LoadBalancingMiddleware";

    /// <summary>The load-balancing middleware's minimum level for LbProxy's: the same at Debug and below, else Error or above.</summary>
    internal static LogEventLevel YarpRepeatLevel(LogEventLevel level) =>
        level <= LogEventLevel.Debug ? level : (LogEventLevel)Math.Max((int)LogEventLevel.Error, (int)level);

    /// <summary>YARP's minimum level for LbProxy's: the same at Debug and below, else Warning or above.</summary>
    internal static LogEventLevel YarpLevel(LogEventLevel level) =>
        level <= LogEventLevel.Debug ? level : (LogEventLevel)Math.Max((int)LogEventLevel.Warning, (int)level);
}
