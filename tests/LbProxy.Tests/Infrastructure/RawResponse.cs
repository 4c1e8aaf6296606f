namespace LbProxy.Tests.Infrastructure;

internal sealed record RawResponse(int StatusCode, string Headers, string Body)
{
    public bool HasHeader(string name) => Headers.Contains("\r\n" + name + ":", StringComparison.OrdinalIgnoreCase);
}
