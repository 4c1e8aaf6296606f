using Serilog;
using Serilog.Core;
using Serilog.Events;

namespace LbProxy.AccessLog;

/// <summary>
/// The access log's own Serilog logger, built once and apart from the application log: no level switch,
/// no enrichers, no template, one sink. By default that sink is Serilog's console sink on stdout; tests
/// give another.
/// </summary>
internal sealed class AccessLogOutput(Logger logger) : IDisposable
{
    public static AccessLogOutput Console() => new(new LoggerConfiguration()
        .MinimumLevel.Information()
        .WriteTo.Console(new AccessLineFormatter())
        .CreateLogger());

    public void Write(string line, DateTimeOffset timestamp) =>
        logger.Write(new LogEvent(timestamp, LogEventLevel.Information, null, MessageTemplate.Empty,
            [new LogEventProperty(AccessLineFormatter.LineProperty, new ScalarValue(line))]));

    public void Dispose() => logger.Dispose();
}
