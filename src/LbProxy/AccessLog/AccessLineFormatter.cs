using Serilog.Events;
using Serilog.Formatting;

namespace LbProxy.AccessLog;

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
