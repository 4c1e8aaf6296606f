namespace LbProxy;

/// <summary>
/// Every event id of LbProxy's own log, in one table: one range per stage, so that an id found in a log line
/// names its stage, and a new event cannot take an id already used.
/// </summary>
internal static class LogEvents
{
    // 1100: Configuration — reading, applying and watching the config file.
    public const int ConfigApplied = 1101;
    public const int ConfigRefused = 1102;
    public const int ConfigUnchanged = 1103;
    public const int ConfigWatcherUnavailable = 1104;
    public const int ConfigWatcherFailed = 1105;
    public const int ConfigSighup = 1106;

    // 2000: AccessLog.
    public const int AccessLogSettingsApplied = 2001;
    public const int AccessLogSettingsRejected = 2002;
    public const int AccessLogLineSkipped = 2011;

    // 2100: AccessLog — requests Kestrel refused before the pipeline.
    public const int RequestRefused = 2101;

    // 3000: Control — the /_lb endpoints and the stop.
    public const int ControlAnswered = 3001;
    public const int ControlRefused = 3002;
    public const int Draining = 3201;

    // 3100: Logging — the runtime log level.
    public const int LogLevelChanged = 3101;
    public const int LogLevelChangedFor = 3102;

    // 4000: Forwarding — what the proxy decided for a proxied request, at Debug only: the request's route,
    // cluster, destination and attempts, each attempt's outcome, and each retry decision (LoadBalancing).
    public const int ProxyRequest = 4001;
    public const int ProxyAttempt = 4002;
    public const int ProxyAttemptFailed = 4003;
    public const int ProxyRetrying = 4004;
    public const int ProxyNotRetried = 4005;

    // 5000: LoadBalancing — safe retries.
    public const int RetryBudgetExhausted = 5002;

    // 6000: Health — outlier ejection.
    public const int Ejected = 6001;
    public const int EjectionCapped = 6002;
    public const int RefusedTakenOut = 6003;
    public const int RefusedLocalFailure = 6004;

    // 8000: Tls — certificates of Kestrel's endpoints: checked, copied for Kestrel, watched.
    public const int TlsCertificateApplied = 8001;
    public const int TlsCertificateRefused = 8002;
    public const int TlsPollFailed = 8003;

    // 8100: Edge — HTTP/2 client connections closed by LbProxy.
    public const int StalledClientCut = 8101;

    // 7000: Diagnostics — runtime sampler and leak watchdog.
    public const int LeakSuspected = 7001;
    public const int LeakCleared = 7002;
    public const int SamplerFailed = 7003;

    // 9000: Demo.
    public const int DemoOriginStarted = 9001;
}
