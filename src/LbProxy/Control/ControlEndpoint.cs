namespace LbProxy.Control;

/// <summary>One control endpoint: its methods, whether it needs the token, and its handler.</summary>
internal sealed record ControlEndpoint(string Name, string[] Methods, bool RequiresToken, Func<HttpContext, Task> Handler)
{
    /// <summary>The value of an <c>Allow</c> header for a 405.</summary>
    public string Allow { get; } = string.Join(", ", Methods);

    public bool Accepts(string method)
    {
        foreach (var allowed in Methods)
        {
            if (HttpMethods.Equals(allowed, method))
            {
                return true;
            }
        }

        return false;
    }
}
