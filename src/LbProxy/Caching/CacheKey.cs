namespace LbProxy.Caching;

/// <summary>
/// What one stored response answers: host (lower case), path, query and the negotiated format class; never the raw
/// <c>Accept</c>, which has thousands of spellings for three classes. GET and HEAD share it: a HEAD is answered from
/// the GET's entry.
/// </summary>
internal readonly record struct CacheKey(string Host, string Path, string Query, string Format)
{
    public static CacheKey Of(HttpRequest request, string? format) =>
        new(request.Host.Value?.ToLowerInvariant() ?? "", request.Path.Value ?? "/", request.QueryString.Value ?? "", format ?? "");
}
