using System.Globalization;
using LbProxy.Caching;
using Microsoft.Extensions.Primitives;

namespace LbProxy.Tests.Caching;

/// <summary>The hot set's byte limit, SIEVE's choice of victims, purges and resizing, on entries built in memory.</summary>
public sealed class HotSetTests
{
    private static readonly DateTimeOffset Now = new(2026, 6, 1, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public void TryAdd_ManyTimesTheLimit_BytesNeverAboveItAndEvictionsCounted()
    {
        var hotSet = new HotSet(200_000);
        long peak = 0;
        for (var i = 0; i < 400; i++)
        {
            Assert.True(hotSet.TryAdd(Entry($"/k{i}", 4000)));
            peak = Math.Max(peak, hotSet.Bytes);
        }

        Assert.True(peak <= 200_000, $"peak {peak}");
        Assert.True(hotSet.Bytes > 150_000, $"{hotSet.Bytes}: barely used");
        Assert.Equal(400 - hotSet.Count, (int)hotSet.Evictions);
    }

    [Fact]
    public void TryAdd_LargerThanTheWholeLimit_RefusedAndNothingEvicted()
    {
        var hotSet = new HotSet(50_000);
        hotSet.TryAdd(Entry("/small", 1000));

        Assert.False(hotSet.TryAdd(Entry("/huge", 60_000)));
        Assert.Equal(1, hotSet.Count);
        Assert.Equal(0, hotSet.Evictions);
    }

    [Fact]
    public void Sieve_AScanOfOneHitKeys_LeavesTheHitKeysInPlace()
    {
        // Room for about 10 entries; 5 hot keys are hit between every two scan keys.
        var hotSet = new HotSet(Room(10, Entry("/x", 4000)) + 100);
        for (var i = 0; i < 5; i++)
        {
            hotSet.TryAdd(Entry($"/hot{i}", 4000));
        }

        for (var i = 0; i < 100; i++)
        {
            for (var h = 0; h < 5; h++)
            {
                Assert.NotNull(hotSet.Get(Key($"/hot{h}")));
            }

            hotSet.TryAdd(Entry($"/scan{i}", 4000));
        }

        // With LRU the same run keeps them too (hit every round); the difference shows when hits are rarer than
        // the scan is long, as on the bench's Zipf trace. Here: none of the hot ones was ever evicted.
        Assert.All(Enumerable.Range(0, 5), h => Assert.NotNull(hotSet.Get(Key($"/hot{h}"))));
        Assert.Equal(10, hotSet.Count);
    }

    [Fact]
    public void Sieve_UnvisitedOldestGoesFirst_VisitedOneSurvivesOnePass()
    {
        var one = Entry("/a", 4000);
        var hotSet = new HotSet(Room(3, one));
        hotSet.TryAdd(one);
        hotSet.TryAdd(Entry("/b", 4000));
        hotSet.TryAdd(Entry("/c", 4000));
        hotSet.Get(Key("/a"));

        hotSet.TryAdd(Entry("/d", 4000));

        Assert.NotNull(hotSet.Get(Key("/a")));
        Assert.Null(hotSet.Get(Key("/b")));
        Assert.NotNull(hotSet.Get(Key("/c")));
        Assert.NotNull(hotSet.Get(Key("/d")));
    }

    [Fact]
    public void Purge_ByPath_DropsEveryClassOfThatPathOnly()
    {
        var hotSet = new HotSet(1_000_000);
        foreach (var format in new[] { "avif", "webp", "original" })
        {
            hotSet.TryAdd(Entry("/images/x.jpg", 100, format));
            hotSet.TryAdd(Entry("/images/y.jpg", 100, format));
        }

        var purged = hotSet.Purge(static k => k.Path == "/images/x.jpg");

        Assert.Equal(3, purged);
        Assert.Equal(3, hotSet.Count);
        Assert.Null(hotSet.Get(Key("/images/x.jpg", "webp")));
        Assert.NotNull(hotSet.Get(Key("/images/y.jpg", "webp")));
    }

    [Fact]
    public void Resize_Smaller_EvictsAtOnceToFit()
    {
        var hotSet = new HotSet(1_000_000);
        for (var i = 0; i < 100; i++)
        {
            hotSet.TryAdd(Entry($"/k{i}", 4000));
        }

        hotSet.Resize(100_000);

        Assert.True(hotSet.Bytes <= 100_000, $"{hotSet.Bytes}");
        Assert.True(hotSet.Count > 10);
    }

    [Fact]
    public void Evicted_WhileAReaderHoldsTheBody_BytesStayReadableUntilReleased()
    {
        var entry = Entry("/held", 40_000);
        var other = Entry("/other", 40_000);
        var hotSet = new HotSet(Room(1, other));
        hotSet.TryAdd(entry);
        Assert.True(entry.Body.TryAcquire());

        hotSet.TryAdd(other); // evicts /held
        var bytes = entry.Body.ToArray();
        entry.Body.Release();

        Assert.Null(hotSet.Get(Key("/held")));
        Assert.Equal(Fill(40_000), bytes);
        Assert.False(entry.Body.TryAcquire()); // released: a late reader goes to the origin instead
    }

    [Fact]
    public void Charge_CoversTheManagedBytesAnEntryTakes_WithNginxsHeaders()
    {
        // What the bench's origin sends with an 8 KiB image. The names are the interned ones every response shares
        // (as Kestrel and HttpClient hand them over); every value and the key's host and path are this response's
        // own strings, as from the wire, made before the measure (the server makes them for every response, stored or
        // not) with their sizes. What an entry costs is what the cache allocates for it plus what it keeps of those:
        // the headers' array, the path, and a value only where it is still the response's own, not the hot set's
        // shared instance (the first entry's, which the table keeps).
        const int Entries = 2000;
        const int Size = 8192;
        var data = Fill(Size);
        var hotSet = new HotSet(long.MaxValue / 4);

        // Filled once and emptied: the table of entries has grown to its size, as in a hot set at its limit, where a
        // new entry takes an evicted one's place instead of growing it (its buckets are in the charge all the same).
        for (var i = 0; i <= Entries; i++)
        {
            Assert.True(hotSet.TryAdd(NginxLike(Wire(i))));
        }

        hotSet.Purge(static _ => true);
        Assert.Equal(0, hotSet.Bytes);

        var wire = Enumerable.Range(0, Entries + 1).Select(Wire).ToArray();
        Assert.True(hotSet.TryAdd(NginxLike(wire[0]))); // the first one brings the shared values in
        var entries = new CacheEntry[Entries + 1];
        var bytesBefore = hotSet.Bytes;
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 1; i <= Entries; i++)
        {
            entries[i] = NginxLike(wire[i]);
            Assert.True(hotSet.TryAdd(entries[i]));
        }

        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        var charged = (hotSet.Bytes - bytesBefore) / Entries;
        long kept = 0;
        for (var i = 1; i <= Entries; i++)
        {
            var (_, values, host, _, sizes) = wire[i];
            kept += sizes[^3] + sizes[^1] + (ReferenceEquals(entries[i].Key.Host, host) ? sizes[^2] : 0);
            for (var h = 0; h < values.Length; h++)
            {
                kept += ReferenceEquals(entries[i].Headers[h].Value.ToString(), values[h]) ? sizes[h] : 0;
            }
        }

        var costs = (allocated + kept) / Entries;
        Assert.True(costs <= charged, $"{costs} bytes an entry, {charged} charged");
        Assert.True(charged - costs <= 256, $"{costs} bytes an entry, {charged} charged: far over");

        // nginx holds such an object in about 8.6 KiB: at 8,850 bytes, 1,000 of them fit in 8,645 KiB as in nginx.
        Assert.True(charged <= 8850, $"{charged} bytes charged an entry");

        CacheEntry NginxLike((KeyValuePair<string, StringValues>[] Headers, string[] Values, string Host, string Path, long[] Sizes) response)
        {
            var body = CacheBody.OfLength(Size);
            body.Append(data);
            body.Complete();
            return new CacheEntry(new CacheKey(response.Host, response.Path, "", "avif"), 200, response.Headers, body, Now, new Freshness(TimeSpan.FromHours(1), TimeSpan.Zero, false));
        }

        // A response's strings as from the wire (the values also apart: the entry's array gets the shared ones in their
        // place), and their sizes: each value's, then the array's, the host's and the path's.
        static (KeyValuePair<string, StringValues>[] Headers, string[] Values, string Host, string Path, long[] Sizes) Wire(int i)
        {
            var sizes = new long[NginxHeaders.Length + 3];
            var mark = GC.GetAllocatedBytesForCurrentThread();
            long Size()
            {
                var now = GC.GetAllocatedBytesForCurrentThread();
                (var size, mark) = (now - mark, now);
                return size;
            }

            var headers = new KeyValuePair<string, StringValues>[NginxHeaders.Length];
            sizes[^3] = Size();
            for (var h = 0; h < headers.Length; h++)
            {
                headers[h] = new(string.Intern(NginxHeaders[h].Name), new string(NginxHeaders[h].Value.AsSpan()));
                sizes[h] = Size();
            }

            var host = new string("127.0.0.1:19310".AsSpan());
            sizes[^2] = Size();
            var spelled = string.Concat("/c/z/", i.ToString(CultureInfo.InvariantCulture), ".jpg");
            Size(); // spelling it out made garbage too: only the copy is the path
            var path = new string(spelled.AsSpan());
            sizes[^1] = Size();
            return (headers, [.. headers.Select(static h => h.Value.ToString())], host, path, sizes);
        }
    }

    [Theory]
    [InlineData("purge")]
    [InlineData("remove")]
    [InlineData("resize")]
    [InlineData("evict")]
    public void SharedValues_CountedOnceAndGoneWithTheirLastEntry(string how)
    {
        var hotSet = new HotSet(1_000_000);
        var entries = Enumerable.Range(0, 5).Select(static i => NginxEntry($"/k{i}")).ToArray();
        foreach (var entry in entries)
        {
            Assert.True(hotSet.TryAdd(entry));
        }

        // The host and seven values (not the ETag) are in the table once, for all five.
        Assert.Equal(8, hotSet.SharedCount);
        Assert.Equal(entries.Sum(static e => e.Charge) + entries[0].SharedBytes(), hotSet.Bytes);

        switch (how)
        {
            case "purge":
                Assert.Equal(5, hotSet.Purge(static _ => true));
                break;
            case "remove":
                Assert.All(entries, entry => Assert.True(hotSet.Remove(entry)));
                break;
            case "resize":
                hotSet.Resize(0);
                break;
            case "evict":
                // One whose values are all new takes the whole limit: every other entry goes, and their values with them.
                var big = NginxEntry("/big", size: 0, server: "another/1.0");
                var alone = big.Charge + big.SharedBytes();
                hotSet.Resize(alone);
                Assert.True(hotSet.TryAdd(big));
                Assert.Equal(1, hotSet.Count);
                Assert.Equal(alone, hotSet.Bytes);
                Assert.True(hotSet.Remove(big));
                break;
        }

        Assert.Equal(0, hotSet.Count);
        Assert.Equal(0, hotSet.Bytes);
        Assert.Equal(0, hotSet.SharedCount);
    }

    [Fact]
    public void SharedValues_ANewOnePushesOverTheLimit_EvictionMakesRoomAndBytesNeverAbove()
    {
        var a = NginxEntry("/a");
        var limit = Room(2, a);
        var hotSet = new HotSet(limit);
        Assert.True(hotSet.TryAdd(a));
        Assert.True(hotSet.TryAdd(NginxEntry("/b")));
        Assert.Equal(limit, hotSet.Bytes);

        // The same charge, but a Server of its own: it fits only once both others (and so the old Server) are out.
        var c = NginxEntry("/c", server: "nginx/1.22.2");
        Assert.Equal(a.Charge, c.Charge);
        Assert.True(hotSet.TryAdd(c));

        Assert.True(hotSet.Bytes <= limit, $"{hotSet.Bytes} over {limit}");
        Assert.Equal(c.Charge + c.SharedBytes(), hotSet.Bytes);
        Assert.Equal(2, hotSet.Evictions);
        Assert.Same(c, hotSet.Get(c.Key));

        // Fitting alone only without its shared values: refused, nothing evicted.
        var tight = new HotSet(c.Charge + c.SharedBytes() - 1);
        Assert.False(tight.TryAdd(NginxEntry("/d")));
        Assert.Equal(0, tight.Bytes);
        Assert.Equal(0, tight.SharedCount);
    }

    [Fact]
    public void SharedValues_ARefreshedEntryReplacingItsOldOne_KeepsTheCountsRight()
    {
        var hotSet = new HotSet(1_000_000);
        var old = NginxEntry("/a");
        Assert.True(hotSet.TryAdd(old));
        var other = NginxEntry("/b");
        Assert.True(hotSet.TryAdd(other));

        // As a 304 refreshes it: the old entry's (shared) headers with a new Date, the same body.
        var headers = old.Headers.Select(static h => h.Key == "Date" ? new(h.Key, new string("Mon, 07 Dec 2026 14:54:42 GMT".AsSpan())) : h).ToArray();
        Assert.True(old.Body.TryAcquire());
        var refreshed = new CacheEntry(old.Key, 200, headers, old.Body, Now, new Freshness(TimeSpan.FromHours(1), TimeSpan.Zero, false));
        Assert.True(hotSet.TryAdd(refreshed));

        Assert.Same(refreshed, hotSet.Get(old.Key));
        Assert.False(hotSet.Remove(old));
        Assert.Equal(9, hotSet.SharedCount); // both dates
        Assert.Equal(refreshed.Charge + other.Charge + other.SharedBytes() + SharedValues.Bytes(headers[1].Value.ToString()), hotSet.Bytes);
        Assert.True(refreshed.Body.TryAcquire()); // the old entry's release left the body to the new one
        refreshed.Body.Release();

        Assert.True(hotSet.Remove(other)); // the first Date goes with its last entry
        Assert.Equal(8, hotSet.SharedCount);
        Assert.Equal(refreshed.Charge + refreshed.SharedBytes(), hotSet.Bytes);
        Assert.True(hotSet.Remove(refreshed));
        Assert.Equal(0, hotSet.Bytes);
        Assert.Equal(0, hotSet.SharedCount);
    }

    [Fact]
    public void SharedValues_TwoEntriesWithTheSameValue_HoldOneString()
    {
        var hotSet = new HotSet(1_000_000);
        var a = NginxEntry("/a");
        var b = NginxEntry("/b");
        Assert.False(ReferenceEquals(a.Headers[2].Value.ToString(), b.Headers[2].Value.ToString()));

        hotSet.TryAdd(a);
        hotSet.TryAdd(b);

        Assert.Same(a.Headers[2].Value.ToString(), b.Headers[2].Value.ToString()); // Content-Type
        Assert.Same(a.Key.Host, b.Key.Host);
        Assert.Equal("\"6753c2a0-2000\"", b.ETag);
        Assert.NotSame(a.ETag, b.ETag); // unique by nature: each entry's own
        Assert.Same(b.Headers[4].Value.ToString(), b.ETag);
    }

    /// <summary>Room for <paramref name="count"/> entries like <paramref name="entry"/>: their charges and their shared values, once.</summary>
    internal static long Room(int count, CacheEntry entry) => (count * entry.Charge) + entry.SharedBytes();

    internal static CacheKey Key(string path, string format = "original") => new("example.test", path, "", format);

    internal static CacheEntry Entry(string path, int size, string format = "original")
    {
        var body = CacheBody.OfLength(size);
        body.Append(Fill(size));
        body.Complete();
        return new CacheEntry(Key(path, format), 200, [new("Content-Type", "image/jpeg")], body, Now, new Freshness(TimeSpan.FromMinutes(1), TimeSpan.Zero, false));
    }

    /// <summary>The headers nginx sends with an 8 KiB image (the bench's origin).</summary>
    private static readonly (string Name, string Value)[] NginxHeaders =
    [
        ("Server", "nginx/1.22.1"), ("Date", "Mon, 07 Dec 2026 13:54:42 GMT"), ("Content-Type", "image/jpeg"),
        ("Last-Modified", "Mon, 07 Dec 2026 13:54:40 GMT"), ("ETag", "\"6753c2a0-2000\""),
        ("Cache-Control", "public, max-age=3600"), ("Vary", "Accept"), ("Accept-Ranges", "bytes"),
    ];

    /// <summary>An entry with nginx's headers, each value a string of its own as from the wire, and a host of its own.</summary>
    private static CacheEntry NginxEntry(string path, int size = 4000, string server = "nginx/1.22.1")
    {
        var body = CacheBody.OfLength(size);
        body.Append(Fill(size));
        body.Complete();
        var headers = NginxHeaders.Select(h => new KeyValuePair<string, StringValues>(string.Intern(h.Name), new string((h.Name == "Server" ? server : h.Value).AsSpan()))).ToArray();
        var key = new CacheKey(new string("example.test".AsSpan()), path, "", "original");
        return new CacheEntry(key, 200, headers, body, Now, new Freshness(TimeSpan.FromMinutes(1), TimeSpan.Zero, false));
    }

    private static byte[] Fill(int size) => [.. Enumerable.Range(0, size).Select(static i => (byte)(i % 251))];
}
