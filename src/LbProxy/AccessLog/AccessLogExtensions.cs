using System.Diagnostics;
using LbProxy.Configuration;
using LbProxy.Control;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace LbProxy.AccessLog;

internal static class AccessLogExtensions
{
    public static IServiceCollection AddLbProxyAccessLog(this IServiceCollection services)
    {
        services.AddLbProxyOptions<AccessLogOptions, AccessLogOptionsValidator>(AccessLogOptions.SectionName, static (section, options) => section.Bind(options));
        services.AddMetrics();
        services.TryAddSingleton(static sp => sp.GetRequiredService<IOptions<AccessLogOptions>>().Value.Path is { Length: > 0 } path
            ? AccessLogOutput.AppendFile(path)
            : AccessLogOutput.Console());
        services.AddSingleton<AccessLogCounters>();
        services.AddSingleton<AppliedAccessLogSettings>();
        services.AddSingleton<AccessLogWriter>();
        services.AddSingleton<AccessLogRecorder>();
        services.AddSingleton<AccessLogReport>();
        services.AddStatusSection<AccessLogReport, AccessLogStatus>("accessLog", static report => report.Capture(), AccessLogJsonContext.Default.AccessLogStatus);
        services.AddSingleton<RefusedRequestLog>();
        return services;
    }

    /// <summary>
    /// The access log, outermost, so that it sees every request with the status the client got; the filter
    /// skips control paths by the same normalizer and prefix as the control-plane split.
    /// </summary>
    public static IApplicationBuilder UseLbProxyAccessLog(this IApplicationBuilder app)
    {
        // Requests Kestrel refuses never reach the middleware: their lines come from its diagnostic event.
        app.ApplicationServices.GetRequiredService<RefusedRequestLog>().Listen(app.ApplicationServices.GetRequiredService<DiagnosticListener>());
        return app.UseMiddleware<AccessLogMiddleware>();
    }
}
