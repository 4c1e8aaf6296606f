namespace LbProxy.LoadBalancing;

/// <summary>What a <c>ConsistentHash</c> cluster hashes, from its <c>ConsistentHash.Key</c> metadata.</summary>
internal enum HashKeyKind
{
    /// <summary><c>path</c> (default): the request path plus the negotiated format class.</summary>
    Path,

    /// <summary><c>path-query</c>: path, query string and format class, for origins that resize by query.</summary>
    PathAndQuery,

    /// <summary><c>header:NAME</c>: the value of one request header (a tenant or image id).</summary>
    Header,
}
