namespace LbProxy.Caching;

/// <summary>
/// What the hot set did for one request on a cached route: the <c>result</c> of
/// <c>lbproxy_cache_requests_total</c> and the access log's <c>{cache}</c>. One shared instance per result.
/// </summary>
internal interface ICacheResultFeature
{
    string Result { get; }
}

internal sealed class CacheResult : ICacheResultFeature
{
    /// <summary>Answered from memory, fresh (a 304 or 206 from memory too).</summary>
    public static readonly CacheResult Hit = new("hit", 0);

    /// <summary>Forwarded to the origin by this request (stored, if the response allowed it).</summary>
    public static readonly CacheResult Miss = new("miss", 1);

    /// <summary>Answered from a stale entry: while another request refreshes it, or because the origin failed.</summary>
    public static readonly CacheResult Stale = new("stale", 2);

    /// <summary>Waited for another request's origin response and streamed its bytes: no origin request of its own.</summary>
    public static readonly CacheResult Collapsed = new("collapsed", 3);

    /// <summary>Not for the hot set: a method other than GET/HEAD, credentials (Authorization, Cookie).</summary>
    public static readonly CacheResult Bypass = new("bypass", 4);

    public static readonly IReadOnlyList<CacheResult> All = [Hit, Miss, Stale, Collapsed, Bypass];

    private CacheResult(string result, int index)
    {
        Result = result;
        Index = index;
    }

    public string Result { get; }

    /// <summary>Its place in <see cref="All"/>.</summary>
    public int Index { get; }
}
