using System.Runtime.InteropServices;

namespace LbProxy.Caching;

/// <summary>
/// The strings stored responses carry alike ("image/jpeg", "nginx/1.22.1", the <c>Date</c> of a busy second, the
/// host of the keys), kept once for the whole hot set and counted by how many uses entries make of them: the first
/// use brings a value in and its bytes (<see cref="Bytes"/>) into the hot set's count, the last one to go takes them
/// out. Each response's own copy from the wire is then garbage at once instead of held for the entry's lifetime.
/// Not thread-safe: the hot set's lock guards it.
/// </summary>
internal sealed class SharedValues
{
    /// <summary>Values longer than this are taken as the response's own (a long <c>Link</c>, a signed cookie-like token).</summary>
    public const int MaxLength = 256;

    /// <summary>
    /// A value's slot in the table: hash, next, the string and its count (24 bytes) and its bucket (4), at the table's
    /// emptiest past a doubling (half full); the table is trimmed once under a quarter full.
    /// </summary>
    public const int SlotBytes = 56;

    private readonly Dictionary<string, int> _uses = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _lookup;

    public SharedValues() => _lookup = _uses.GetAlternateLookup<ReadOnlySpan<char>>();

    public int Count => _uses.Count;

    /// <summary>What a value in the table counts against the hot set's limit.</summary>
    public static long Bytes(string value) => CacheEntry.StringBytes(value) + SlotBytes;

    /// <summary>
    /// The table's instance equal to <paramref name="value"/>, one use more; a value not there yet goes in as it is,
    /// and its <see cref="Bytes"/> are added to <paramref name="added"/>.
    /// </summary>
    public string Acquire(string value, ref long added)
    {
        if (_lookup.TryGetValue(value, out var shared, out _))
        {
            CollectionsMarshal.GetValueRefOrNullRef(_uses, shared)++;
            return shared;
        }

        _uses.Add(value, 1);
        added += Bytes(value);
        return value;
    }

    /// <summary>One use less of a value taken with <see cref="Acquire"/>; the bytes it frees when it was the last.</summary>
    public long Release(string value)
    {
        ref var uses = ref CollectionsMarshal.GetValueRefOrNullRef(_uses, value);
        if (--uses > 0)
        {
            return 0;
        }

        _uses.Remove(value);
        if (_uses.Count < _uses.Capacity / 4)
        {
            _uses.TrimExcess(_uses.Count * 2);
        }

        return Bytes(value);
    }
}
