namespace LbProxy.Tests.Infrastructure;

internal sealed record RawResponse(int StatusCode, string Headers, string Body)
{
    public bool HasHeader(string name) => Headers.Contains("\r\n" + name + ":", StringComparison.OrdinalIgnoreCase);

    /// <summary>The value of the first <paramref name="name"/> header, trimmed; null when there is none.</summary>
    public string? Header(string name)
    {
        foreach (var line in Headers.Split("\r\n").Skip(1))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon > 0 && line.AsSpan(0, colon).Equals(name, StringComparison.OrdinalIgnoreCase))
            {
                return line[(colon + 1)..].Trim();
            }
        }

        return null;
    }
}
