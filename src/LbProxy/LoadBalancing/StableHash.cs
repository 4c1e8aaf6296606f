namespace LbProxy.LoadBalancing;

/// <summary>
/// A 64-bit hash that is the same in every process and on every machine (unlike string.GetHashCode), so that
/// all replicas of LbProxy send a key to the same origin. FNV-1a over UTF-16 code units, then a SplitMix64
/// finaliser for avalanche: FNV alone spreads similar paths poorly in the high bits.
/// </summary>
internal static class StableHash
{
    private const ulong FnvOffset = 14695981039346656037UL;
    private const ulong FnvPrime = 1099511628211UL;

    public static ulong Start => FnvOffset;

    public static ulong Add(ulong hash, ReadOnlySpan<char> text)
    {
        foreach (var c in text)
        {
            hash = (hash ^ c) * FnvPrime;
        }

        return hash;
    }

    public static ulong Add(ulong hash, char separator) => (hash ^ separator) * FnvPrime;

    public static ulong Of(ReadOnlySpan<char> text) => Finish(Add(Start, text));

    public static ulong Finish(ulong hash) => Mix(hash);

    /// <summary>SplitMix64's finaliser: every input bit affects every output bit.</summary>
    public static ulong Mix(ulong x)
    {
        x ^= x >> 30;
        x *= 0xBF58476D1CE4E5B9UL;
        x ^= x >> 27;
        x *= 0x94D049BB133111EBUL;
        x ^= x >> 31;
        return x;
    }

    /// <summary>Combines two hashes into one, order-sensitive.</summary>
    public static ulong Combine(ulong a, ulong b) => Mix(a ^ Mix(b + 0x9E3779B97F4A7C15UL));
}
