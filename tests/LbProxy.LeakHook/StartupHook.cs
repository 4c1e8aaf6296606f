using System.Diagnostics;

/// <summary>
/// Loaded by the runtime before LbProxy's Main (DOTNET_STARTUP_HOOKS). It listens to ASP.NET Core hosting's
/// BeginRequest diagnostic event and, for every request, leaks in the form LBPROXY_TEST_LEAK names:
/// <c>timer</c> (a periodic timer whose callback is <see cref="PerRequestLogger.UpdateTimestamp"/>), <c>loop</c> (an
/// endless <see cref="PerRequestLogger.TimestampLoopAsync"/> awaiting Task.Delay), or <c>event</c> (a handler added to
/// the static <see cref="PerRequestLogger.Stamped"/> event, which every request raises). Anything else: no leak, the
/// listener alone (the healthy control).
/// </summary>
internal static class StartupHook
{
    public static void Initialize()
    {
        var form = Environment.GetEnvironmentVariable("LBPROXY_TEST_LEAK") ?? string.Empty;
        DiagnosticListener.AllListeners.Subscribe(new Listeners(form));
    }

    private sealed class Listeners(string form) : IObserver<DiagnosticListener>
    {
        public void OnNext(DiagnosticListener listener)
        {
            if (listener.Name == "Microsoft.AspNetCore")
            {
                listener.Subscribe(new Requests(form), static name => name == "Microsoft.AspNetCore.Hosting.BeginRequest");
            }
        }

        public void OnCompleted()
        {
        }

        public void OnError(Exception error)
        {
        }
    }

    private sealed class Requests(string form) : IObserver<KeyValuePair<string, object?>>
    {
        public void OnNext(KeyValuePair<string, object?> value)
        {
            if (value.Key != "Microsoft.AspNetCore.Hosting.BeginRequest")
            {
                return;
            }

            switch (form)
            {
                case "timer":
                    PerRequestLogger.StartTimer();
                    break;
                case "loop":
                    _ = PerRequestLogger.TimestampLoopAsync();
                    break;
                case "event":
                    PerRequestLogger.Subscribe();
                    break;
                default:
                    break;
            }
        }

        public void OnCompleted()
        {
        }

        public void OnError(Exception error)
        {
        }
    }
}

/// <summary>The story's request logger, built once per request: each one keeps its timestamp fresh, forever.</summary>
internal sealed class PerRequestLogger
{
    private static readonly List<Timer> Timers = [];
    private string _timestamp = string.Empty;

    /// <summary>Raised on every request; each logger ever built is still subscribed.</summary>
    public static event Action? Stamped;

    public static void StartTimer()
    {
        var logger = new PerRequestLogger();
        var timer = new Timer(UpdateTimestamp, logger, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
        lock (Timers)
        {
            Timers.Add(timer);
        }
    }

    public static async Task TimestampLoopAsync()
    {
        var logger = new PerRequestLogger();
        while (true)
        {
            await Task.Delay(TimeSpan.FromSeconds(1));
            logger.Stamp();
        }
    }

    public static void Subscribe()
    {
        var logger = new PerRequestLogger();
        Stamped += logger.Stamp;
        Stamped?.Invoke();
    }

    public static void UpdateTimestamp(object? state) => ((PerRequestLogger)state!).Stamp();

    private void Stamp() => _timestamp = DateTime.UtcNow.ToString("HH:mm:ss.fff", System.Globalization.CultureInfo.InvariantCulture);
}
