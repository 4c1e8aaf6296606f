namespace LbProxy.AccessLog;

/// <summary>What the middleware measured of one request, beside what the HttpContext holds.</summary>
internal readonly record struct AccessLogMeasurement(DateTime Time, int StatusCode, TimeSpan Duration, long Bytes);
