namespace LbProxy;

/// <summary>
/// Every event id of LbProxy's own log, in one table: one band of 1,000 ids per stage (folder), so that an id found
/// in a log line names its stage, and a new event cannot take an id already used. A band is declared by a comment
/// line <c>// FROM-TO Folder: what it logs</c>; the ids below it, up to the next band, are that folder's, and only
/// code in that folder logs them. Bands never overlap; a stage without one takes the next free band (13000-13999 is
/// the next). <c>tests/LbProxy.Tests/Structure/LogEventBandsTests</c> checks all of this.
/// </summary>
internal static class LogEvents
{
    // 1000-1999 Configuration: reading, applying and watching the config file.
    public const int ConfigApplied = 1101;
    public const int ConfigRefused = 1102;
    public const int ConfigUnchanged = 1103;
    public const int ConfigWatcherUnavailable = 1104;
    public const int ConfigWatcherFailed = 1105;
    public const int ConfigSighup = 1106;
    public const int ConfigReverted = 1107;
    public const int ConfigSighupRearmed = 1108;

    // 2000-2999 AccessLog: its settings, skipped lines and failed writes; 2100, requests Kestrel refused before the pipeline.
    public const int AccessLogSettingsApplied = 2001;
    public const int AccessLogSettingsRejected = 2002;
    public const int AccessLogLineSkipped = 2011;
    public const int AccessLogWriteFailed = 2021;
    public const int AccessLogWriteRecovered = 2022;
    public const int RequestRefused = 2101;

    // 3000-3999 Control: the /_lb endpoints and the stop.
    public const int ControlAnswered = 3001;
    public const int ControlRefused = 3002;
    public const int Draining = 3201;

    // 4000-4999 Forwarding: what the proxy decided for a proxied request, at Debug only: the request's route, cluster,
    // destination and attempts, and each attempt's outcome (each retry decision is LoadBalancing's: 5004, 5005).
    public const int ProxyRequest = 4001;
    public const int ProxyAttempt = 4002;
    public const int ProxyAttemptFailed = 4003;

    // 5000-5999 LoadBalancing: safe retries, and at Debug each retry decision.
    public const int RetryBudgetExhausted = 5002;
    public const int ProxyRetrying = 5004;
    public const int ProxyNotRetried = 5005;

    // 6000-6999 Health: outlier ejection and refused connections.
    public const int Ejected = 6001;
    public const int EjectionCapped = 6002;
    public const int RefusedTakenOut = 6003;
    public const int RefusedLocalFailure = 6004;

    // 7000-7999 Diagnostics: runtime sampler and leak watchdog.
    public const int LeakSuspected = 7001;
    public const int LeakCleared = 7002;
    public const int SamplerFailed = 7003;
    public const int LeakWindowFitted = 7004;

    // 8000-8999 Tls: certificates of Kestrel's endpoints: checked, copied for Kestrel, watched.
    public const int TlsCertificateApplied = 8001;
    public const int TlsCertificateRefused = 8002;
    public const int TlsPollFailed = 8003;

    // 9000-9999 Demo: the demo's sample origins.
    public const int DemoOriginStarted = 9001;

    // 10000-10999 Logging: the runtime log level.
    public const int LogLevelChanged = 10101;
    public const int LogLevelChangedFor = 10102;

    // 11000-11999 Edge: client connections closed by LbProxy: a stalled HTTP/2 client, a slow reader.
    public const int StalledClientCut = 11101;
    public const int SlowReaderCut = 11102;

    // 14000-14999 RateLimiting: requests refused by a rate limit policy, at Debug only.
    public const int RateLimited = 14001;

    // 16000-16999 Discovery: destinations from DNS: a name that stops resolving (once), resolves again, changes.
    public const int DnsResolveFailed = 16001;
    public const int DnsResolveRecovered = 16002;
    public const int DnsAddressesChanged = 16003;

    // 17000-17999 Caching: the hot set's purges and background refreshes.
    public const int CachePurgedPath = 17001;
    public const int CachePurgedAll = 17002;
    public const int CacheRefreshed = 17003;
    public const int CacheRefreshThrew = 17004;

    // 12000-12999 Admission: origin protection (concurrency limits, queue, shedding), at Debug only.
    public const int AdmissionShed = 12001;
}
