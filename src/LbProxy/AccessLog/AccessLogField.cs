namespace LbProxy.AccessLog;

/// <summary>What a template segment writes: literal text, or one of the placeholders.</summary>
internal enum AccessLogField
{
    Literal,
    Ip,
    Time,
    Method,
    Url,
    Status,
    Referer,
    UserAgent,
    DurationMs,
    Bytes,
    Route,
    Cluster,
    Destination,
    RequestId,
    Path,
    Query,
    Format,
}
