using Serilog.Core;
using Serilog.Events;
using Serilog.Formatting.Display;
using Serilog.Parsing;

namespace LbProxy.Logging;

/// <summary>
/// Keeps the log readable when the same thing goes wrong on every request (an origin answering garbage, a spent
/// retry budget): each message (its source and template) is written at most <c>limit</c> times per window, and
/// what was held back is written as one line with its count when the window ends. Warnings and lower lose their
/// exception's stack trace (the exception's type and message stay, on the same line): a stack trace per failed
/// request is how a client floods a log. Errors keep theirs. Debug and Verbose pass untouched: an operator who
/// switched to them asked for every line.
/// </summary>
/// <remarks>
/// No timer: a window's held-back count is written by the first event after the window ends, of any message,
/// so it can come late on a log that falls silent, never lost while anything is logged. Bounded by the number of
/// distinct messages in the code; idle ones are forgotten.
/// </remarks>
internal sealed class RepeatLimitingSink(ILogEventSink inner, int limit, TimeSpan window, TimeProvider time) : ILogEventSink, IDisposable
{
    private static readonly MessageTemplateParser Parser = new();
    private static readonly MessageTemplateTextFormatter MessageFormatter = new("{Message:lj}", System.Globalization.CultureInfo.InvariantCulture);
    private static readonly MessageTemplate HeldBackTemplate =
        Parser.Parse("{HeldBack} more like it held back in the last {WindowSeconds} s (at most {Limit} are written per window): {Message}");

    private readonly Lock _lock = new();
    private readonly Dictionary<(string? Source, string Template), Repeats> _repeats = [];
    private DateTimeOffset _nextSweep = DateTimeOffset.MinValue;

    public void Emit(LogEvent logEvent)
    {
        if (logEvent.Level < LogEventLevel.Information || limit <= 0)
        {
            inner.Emit(logEvent);
            return;
        }

        List<LogEvent>? heldBack = null;
        bool write;
        var now = time.GetUtcNow();
        lock (_lock)
        {
            if (now >= _nextSweep)
            {
                Sweep(now, ref heldBack);
                _nextSweep = now + window;
            }

            var key = (Source(logEvent), logEvent.MessageTemplate.Text);
            if (!_repeats.TryGetValue(key, out var repeats))
            {
                repeats = new Repeats { WindowEnd = now + window };
                _repeats[key] = repeats;
            }
            else if (now >= repeats.WindowEnd)
            {
                Close(repeats, now, ref heldBack);
            }

            repeats.Count++;
            write = repeats.Count <= limit;
            if (!write)
            {
                repeats.HeldBack++;
                repeats.Last = logEvent;
            }
        }

        if (heldBack is not null)
        {
            foreach (var summary in heldBack)
            {
                inner.Emit(summary);
            }
        }

        if (write)
        {
            inner.Emit(Shortened(logEvent));
        }
    }

    public void Dispose() => (inner as IDisposable)?.Dispose();

    private void Sweep(DateTimeOffset now, ref List<LogEvent>? heldBack)
    {
        List<(string?, string)>? idle = null;
        foreach (var (key, repeats) in _repeats)
        {
            if (now < repeats.WindowEnd)
            {
                continue;
            }

            if (repeats.Count == 0)
            {
                (idle ??= []).Add(key);
            }

            Close(repeats, now, ref heldBack);
        }

        foreach (var key in idle ?? [])
        {
            _repeats.Remove(key);
        }
    }

    private void Close(Repeats repeats, DateTimeOffset now, ref List<LogEvent>? heldBack)
    {
        if (repeats.HeldBack > 0 && repeats.Last is { } last)
        {
            var properties = new List<LogEventProperty>
            {
                new("HeldBack", new ScalarValue(repeats.HeldBack)),
                new("WindowSeconds", new ScalarValue((int)window.TotalSeconds)),
                new("Limit", new ScalarValue(limit)),
                new("Message", new ScalarValue(OneLine(Rendered(last)))),
            };
            if (last.Properties.TryGetValue(Constants.SourceContextPropertyName, out var source))
            {
                properties.Add(new LogEventProperty(Constants.SourceContextPropertyName, source));
            }

            (heldBack ??= []).Add(new LogEvent(now, last.Level, null, HeldBackTemplate, properties));
        }

        repeats.Count = 0;
        repeats.HeldBack = 0;
        repeats.Last = null;
        repeats.WindowEnd = now + window;
    }

    /// <summary>A warning's exception as one line after its message, instead of a stack trace on the lines below.</summary>
    private static LogEvent Shortened(LogEvent logEvent)
    {
        if (logEvent.Exception is not { } exception || logEvent.Level >= LogEventLevel.Error)
        {
            return logEvent;
        }

        var properties = logEvent.Properties.Select(static p => new LogEventProperty(p.Key, p.Value)).ToList();
        properties.Add(new LogEventProperty("ExceptionSummary", new ScalarValue(Summary(exception))));
        var template = Parser.Parse(logEvent.MessageTemplate.Text + " ({ExceptionSummary})");
        return new LogEvent(logEvent.Timestamp, logEvent.Level, null, template, properties);
    }

    /// <summary>The message as the console writes it (strings without quotes).</summary>
    private static string Rendered(LogEvent logEvent)
    {
        using var writer = new StringWriter(System.Globalization.CultureInfo.InvariantCulture);
        MessageFormatter.Format(logEvent, writer);
        return writer.ToString();
    }

    private static string Summary(Exception exception)
    {
        var parts = new List<string>();
        for (var current = exception; current is not null && parts.Count < 4; current = current.InnerException)
        {
            parts.Add($"{current.GetType().Name}: {OneLine(current.Message)}");
        }

        return string.Join(" <- ", parts);
    }

    private static string OneLine(string text)
    {
        var line = text.ReplaceLineEndings(" ");
        return line.Length <= 300 ? line : line[..300] + "...";
    }

    private static string? Source(LogEvent logEvent) =>
        logEvent.Properties.TryGetValue(Constants.SourceContextPropertyName, out var value) && value is ScalarValue { Value: string source } ? source : null;

    private sealed class Repeats
    {
        public int Count;
        public int HeldBack;
        public DateTimeOffset WindowEnd;
        public LogEvent? Last;
    }
}
