using System.Globalization;
using LbProxy.LoadBalancing;
using LbProxy.Tests.Infrastructure;
using Yarp.ReverseProxy.Model;

namespace LbProxy.Tests.LoadBalancing;

public sealed class ConsistentHashPolicyTests
{
    private const int Keys = 100_000;

    [Fact]
    public void Pick_100kKeysOver8Destinations_EachWithin10PercentOfFair()
    {
        var destinations = TestDestinations.Make(8);

        var counts = Assign(destinations).GroupBy(d => d).ToDictionary(g => g.Key, g => g.Count());

        Assert.Equal(8, counts.Count);
        foreach (var count in counts.Values)
        {
            Assert.InRange(count, Keys / 8 * 0.9, Keys / 8 * 1.1);
        }
    }

    [Theory]
    [InlineData(3)]
    [InlineData(8)]
    [InlineData(20)]
    public void Pick_RemoveOneOfN_MovesOnlyItsKeys_AndAddingItBackMovesThemBack(int n)
    {
        var all = TestDestinations.Make(n);
        var before = Assign(all);
        var removed = all[n / 2];
        var without = all.Where(d => d != removed).ToList();

        var after = Assign(without);
        var returned = Assign(all);

        var moved = Enumerable.Range(0, Keys).Count(i => before[i] != after[i]);
        Assert.True(moved <= 1.2 * Keys / n, $"{moved} of {Keys} keys moved");
        Assert.All(Enumerable.Range(0, Keys).Where(i => before[i] != after[i]), i => Assert.Same(removed, before[i]));
        // DestinationState is itself a list (of itself), so compare identities, not contents.
        Assert.True(before.SequenceEqual(returned, ReferenceEqualityComparer.Instance), "keys did not move back");
    }

    [Fact]
    public void Pick_Weights_AreHonouredWithinAFewPercent()
    {
        double[] weights = [1, 2, 3, 4];
        var destinations = weights.Select((w, i) => TestDestinations.Weighted($"w{i}", w)).ToList();

        var counts = Assign(destinations).GroupBy(d => d).ToDictionary(g => g.Key, g => g.Count());

        for (var i = 0; i < weights.Length; i++)
        {
            var expected = Keys * weights[i] / weights.Sum();
            Assert.InRange(counts[destinations[i]], expected * 0.96, expected * 1.04);
        }
    }

    [Fact]
    public void Pick_ZeroWeight_TakesNoKeys()
    {
        var destinations = new List<DestinationState> { TestDestinations.Weighted("a", 1), TestDestinations.Weighted("drained", 0), TestDestinations.Weighted("b", 1) };

        Assert.DoesNotContain("drained", Assign(destinations).Select(d => d.DestinationId));
        Assert.Null(ConsistentHashPolicy.Pick(1, [destinations[1]]));
    }

    [Fact]
    public void Pick_SameKey_SameDestinationWhateverTheListOrder()
    {
        var destinations = TestDestinations.Make(5);
        var reversed = destinations.AsEnumerable().Reverse().ToList();

        for (ulong key = 0; key < 1000; key++)
        {
            Assert.Same(ConsistentHashPolicy.Pick(StableHash.Mix(key), destinations), ConsistentHashPolicy.Pick(StableHash.Mix(key), reversed));
        }
    }

    [Fact]
    public void KeyOf_DependsOnPathAndFormat_NotOnOtherHeaders()
    {
        var spec = HashKeySpec.Default;

        var a = ConsistentHashPolicy.KeyOf(Context("/images/a.jpg"), spec);
        var aAgain = ConsistentHashPolicy.KeyOf(Context("/images/a.jpg", ("User-Agent", "x")), spec);
        var b = ConsistentHashPolicy.KeyOf(Context("/images/b.jpg"), spec);
        var aQuery = ConsistentHashPolicy.KeyOf(Context("/images/a.jpg", query: "?w=100"), spec);

        Assert.Equal(a, aAgain);
        Assert.NotEqual(a, b);
        Assert.Equal(a, aQuery);
        Assert.NotEqual(aQuery, ConsistentHashPolicy.KeyOf(Context("/images/a.jpg", query: "?w=100"), HashKeySpec.Parse("path-query")!));
        Assert.NotEqual(
            ConsistentHashPolicy.KeyOf(Context("/x", ("X-Tenant", "t1")), HashKeySpec.Parse("header:X-Tenant")!),
            ConsistentHashPolicy.KeyOf(Context("/x", ("X-Tenant", "t2")), HashKeySpec.Parse("header:X-Tenant")!));
    }

    [Theory]
    [InlineData("path", "Path")]
    [InlineData("PATH-QUERY", "PathAndQuery")]
    [InlineData("header:X-Image-Id", "Header")]
    public void HashKeySpec_Parse_KnownSpellings(string text, string kind) => Assert.Equal(kind, HashKeySpec.Parse(text)!.Kind.ToString());

    [Theory]
    [InlineData("cookie")]
    [InlineData("header:")]
    public void HashKeySpec_Parse_UnknownIsNull(string text) => Assert.Null(HashKeySpec.Parse(text));

    private static List<DestinationState> Assign(IReadOnlyList<DestinationState> destinations)
    {
        var assigned = new List<DestinationState>(Keys);
        for (var i = 0; i < Keys; i++)
        {
            var key = StableHash.Of("/images/" + i.ToString(CultureInfo.InvariantCulture) + ".jpg");
            assigned.Add(ConsistentHashPolicy.Pick(key, destinations)!);
        }

        return assigned;
    }

    private static DefaultHttpContext Context(string path, (string Name, string Value)? header = null, string query = "")
    {
        var context = new DefaultHttpContext();
        context.Request.Path = path;
        context.Request.QueryString = new QueryString(query.Length == 0 ? null : query);
        if (header is { } h)
        {
            context.Request.Headers[h.Name] = h.Value;
        }

        return context;
    }
}
