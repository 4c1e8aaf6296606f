using Serilog;
using Serilog.Core;
using Serilog.Events;
using Serilog.Formatting;

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

/// <summary>
/// Writes an access-log event as its formatted line and a newline, nothing else: the line is built by
/// <see cref="AccessLogTemplate"/>, so it is never parsed as a message template (braces in a URL stay as sent).
/// </summary>
internal sealed class AccessLineFormatter : ITextFormatter
{
    public const string LineProperty = "Line";

    public void Format(LogEvent logEvent, TextWriter output)
    {
        if (logEvent.Properties.TryGetValue(LineProperty, out var value) && value is ScalarValue { Value: string line })
        {
            output.Write(line);
            output.Write('\n');
        }
    }
}
