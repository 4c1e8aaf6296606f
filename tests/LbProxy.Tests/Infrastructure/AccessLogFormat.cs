using System.Text.RegularExpressions;

namespace LbProxy.Tests.Infrastructure;

internal static partial class AccessLogFormat
{
    /// <summary>A line of the default template, <c>{ip} - [{time}] {method} {url} {status} {referer} {ua}</c>, from a loopback client.</summary>
    [GeneratedRegex(@"^127\.0\.0\.1 - \[\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\] GET /\S* \d{3} .*$")]
    public static partial Regex DefaultLine();
}
