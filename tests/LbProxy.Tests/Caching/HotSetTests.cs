using LbProxy.Caching;

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
        var hotSet = new HotSet(10 * Entry("/x", 4000).Charge + 100);
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
        var hotSet = new HotSet(3 * one.Charge);
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
        var hotSet = new HotSet(entry.Charge);
        hotSet.TryAdd(entry);
        Assert.True(entry.Body.TryAcquire());

        hotSet.TryAdd(Entry("/other", 40_000)); // evicts /held
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
        // (as Kestrel and HttpClient hand them over); every value, the key's strings and the body are this entry's own.
        (string Name, string Value)[] sent =
        [
            ("Server", "nginx/1.22.1"), ("Date", "Mon, 07 Dec 2026 13:54:42 GMT"), ("Content-Type", "image/jpeg"),
            ("Last-Modified", "Mon, 07 Dec 2026 13:54:40 GMT"), ("ETag", "\"6753c2a0-2000\""),
            ("Cache-Control", "public, max-age=3600"), ("Vary", "Accept"), ("Accept-Ranges", "bytes"),
        ];
        const int Entries = 2000;
        const int Size = 8192;
        var data = Fill(Size);
        var hotSet = new HotSet(long.MaxValue / 4);
        Assert.True(hotSet.TryAdd(NginxLike(0))); // the first one pays for what every entry shares

        long charged = 0;
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 1; i <= Entries; i++)
        {
            var entry = NginxLike(i);
            charged += entry.Charge;
            Assert.True(hotSet.TryAdd(entry));
        }

        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(allocated <= charged, $"{allocated / Entries} bytes allocated an entry, {charged / Entries} charged");
        Assert.True(charged - allocated <= Entries * 1024L, $"{allocated / Entries} bytes allocated an entry, {charged / Entries} charged: far over");

        CacheEntry NginxLike(int i)
        {
            var body = CacheBody.OfLength(Size);
            body.Append(data);
            body.Complete();
            var headers = new KeyValuePair<string, Microsoft.Extensions.Primitives.StringValues>[sent.Length];
            for (var h = 0; h < sent.Length; h++)
            {
                headers[h] = new(string.Intern(sent[h].Name), new string(sent[h].Value.AsSpan())); // a value of its own
            }

            var key = new CacheKey(new string("127.0.0.1:19310".AsSpan()), $"/c/z/{i}.jpg", "", "avif");
            return new CacheEntry(key, 200, headers, body, Now, new Freshness(TimeSpan.FromHours(1), TimeSpan.Zero, false));
        }
    }

    internal static CacheKey Key(string path, string format = "original") => new("example.test", path, "", format);

    internal static CacheEntry Entry(string path, int size, string format = "original")
    {
        var body = CacheBody.OfLength(size);
        body.Append(Fill(size));
        body.Complete();
        return new CacheEntry(Key(path, format), 200, [new("Content-Type", "image/jpeg")], body, Now, new Freshness(TimeSpan.FromMinutes(1), TimeSpan.Zero, false));
    }

    private static byte[] Fill(int size) => [.. Enumerable.Range(0, size).Select(static i => (byte)(i % 251))];
}
