using System.Runtime.CompilerServices;
using Yarp.ReverseProxy.Model;

namespace LbProxy.LoadBalancing;

/// <summary>A cluster's parsed <c>ConsistentHash.Key</c>, cached per cluster model (a reload makes a new one).</summary>
internal sealed record HashKeySpec(HashKeyKind Kind, string? HeaderName)
{
    public const string MetadataKey = "ConsistentHash.Key";
    private const string HeaderPrefix = "header:";

    private static readonly ConditionalWeakTable<ClusterModel, HashKeySpec> Cache = new();

    public static HashKeySpec Default { get; } = new(HashKeyKind.Path, null);

    public static HashKeySpec Of(ClusterModel cluster)
    {
        if (Cache.TryGetValue(cluster, out var known))
        {
            return known;
        }

        var metadata = cluster.Config.Metadata;
        var spec = metadata is not null && metadata.TryGetValue(MetadataKey, out var text) ? Parse(text) ?? Default : Default;
        Cache.AddOrUpdate(cluster, spec);
        return spec;
    }

    /// <summary><c>path</c>, <c>path-query</c> or <c>header:NAME</c>; null for anything else.</summary>
    public static HashKeySpec? Parse(string? text) => text?.Trim() switch
    {
        null or "" => null,
        var t when t.Equals("path", StringComparison.OrdinalIgnoreCase) => Default,
        var t when t.Equals("path-query", StringComparison.OrdinalIgnoreCase) => new HashKeySpec(HashKeyKind.PathAndQuery, null),
        var t when t.StartsWith(HeaderPrefix, StringComparison.OrdinalIgnoreCase) && t.Length > HeaderPrefix.Length =>
            new HashKeySpec(HashKeyKind.Header, t[HeaderPrefix.Length..].Trim()),
        _ => null,
    };
}

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
