using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.Json.Nodes;
using LbProxy.Configuration;
using LbProxy.Tests.Infrastructure;

namespace LbProxy.Tests.Functional;

/// <summary>
/// Per-client rate limits through a real LbProxy to a real sample origin on loopback: the policy a route names in
/// <c>RateLimiterPolicy</c> refuses what is over its figures with a 429 and <c>Retry-After</c>, per partition, and
/// no refused request reaches the origin (counted at the origin). Windows of a minute make the counts exact.
/// </summary>
public sealed class RateLimitTests : IAsyncLifetime
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);
    private TestOrigins _origins = null!;

    public async Task InitializeAsync() => _origins = await TestOrigins.StartAsync(1);

    public async Task DisposeAsync() => await _origins.DisposeAsync();

    [Fact]
    public async Task ClientAt20TimesItsRate_Gets429s_WhileAClientUnderItsRateGetsOnly200s()
    {
        // 5 requests a second per client address; client A (127.0.0.2) sends 100 at once, B (127.0.0.3) one every 0.4 s.
        await using var proxy = await TestProxy.StartAsync(Config(
            new JsonObject { ["Kind"] = "TokenBucket", ["TokenLimit"] = 5, ["TokensPerPeriod"] = 5, ["ReplenishmentPeriod"] = "00:00:01" }));
        using var a = ClientFrom("127.0.0.2", proxy.Address);
        using var b = ClientFrom("127.0.0.3", proxy.Address);
        var originBefore = _origins[0].RequestCount;

        var clock = Stopwatch.StartNew();
        var flood = Task.WhenAll(Enumerable.Range(0, 100).Select(_ => SendAsync(a, "/images/cat.jpg")));
        var steady = new List<Answer>();
        for (var i = 0; i < 10; i++)
        {
            steady.Add(await SendAsync(b, "/images/cat.jpg"));
            await Task.Delay(400);
        }

        var flooded = await flood;
        var elapsed = clock.Elapsed;

        Assert.All(steady, answer => Assert.Equal(HttpStatusCode.OK, answer.Status));
        var limited = flooded.Where(static x => x.Status == HttpStatusCode.TooManyRequests).ToList();
        var served = flooded.Count(static x => x.Status == HttpStatusCode.OK);
        Assert.Equal(100, limited.Count + served);
        Assert.InRange(served, 5, 5 + (5 * ((int)elapsed.TotalSeconds + 1)));
        Assert.All(limited, answer => Assert.True(answer.RetryAfter >= 1, $"Retry-After {answer.RetryAfter}"));
        Assert.All(limited, answer => Assert.Equal("429 too many requests\n", answer.Body));

        // Refused requests never reach the origin; every 429 is counted once, by cluster and reason.
        Assert.Equal(served + steady.Count, _origins[0].RequestCount - originBefore);
        var scrape = await MetricsScrape.TakeAsync(proxy.Client);
        Assert.Equal(limited.Count, scrape.Sum("lbproxy_shed_requests_total", ("cluster", "images"), ("reason", "rate_limited")));
        var status = await StatusAsync(proxy);
        Assert.Equal(limited.Count, status[0]!["limited"]!.GetValue<long>());
        Assert.Equal("ClientIp", status[0]!["partitionBy"]!.GetValue<string>());
        var log = await proxy.AccessLog.WaitForAsync(110);
        Assert.Equal(limited.Count, log.Count(static line => line.Contains(" 429 ", StringComparison.Ordinal)));
    }

    [Theory]
    [InlineData("TokenBucket", """{ "TokenLimit": 3, "TokensPerPeriod": 1, "ReplenishmentPeriod": "00:01:00" }""")]
    [InlineData("FixedWindow", """{ "PermitLimit": 3, "Window": "00:01:00" }""")]
    [InlineData("SlidingWindow", """{ "PermitLimit": 3, "Window": "00:01:00", "SegmentsPerWindow": 2 }""")]
    public async Task EachReplenishingKind_AdmitsItsFigure_ThenRefusesWithRetryAfterWithinItsPeriod(string kind, string figures)
    {
        var policy = JsonNode.Parse(figures)!.AsObject();
        policy["Kind"] = kind;
        policy["PartitionBy"] = "None";
        await using var proxy = await TestProxy.StartAsync(Config(policy));
        var before = _origins[0].RequestCount;

        var answers = new List<Answer>();
        for (var i = 0; i < 10; i++)
        {
            answers.Add(await SendAsync(proxy.Client, "/images/cat.jpg"));
        }

        Assert.Equal([.. Enumerable.Repeat(HttpStatusCode.OK, 3), .. Enumerable.Repeat(HttpStatusCode.TooManyRequests, 7)], answers.Select(static x => x.Status));
        Assert.All(answers.Skip(3), answer => Assert.InRange(answer.RetryAfter, 1, 60));
        Assert.Equal(3, _origins[0].RequestCount - before);
    }

    [Fact]
    public async Task Concurrency_AdmitsItsPermitsInFlight_AndRefusesTheRest()
    {
        _origins[0].Behavior.DelayMs = 5000; // each admitted request holds its permit this long at the origin
        await using var proxy = await TestProxy.StartAsync(Config(new JsonObject { ["Kind"] = "Concurrency", ["PermitLimit"] = 2, ["PartitionBy"] = "None" }));

        var answers = await Task.WhenAll(Enumerable.Range(0, 6).Select(_ => SendAsync(proxy.Client, "/images/cat.jpg")));

        Assert.Equal(2, answers.Count(static x => x.Status == HttpStatusCode.OK));
        Assert.Equal(4, answers.Count(static x => x.Status == HttpStatusCode.TooManyRequests));
        Assert.All(answers.Where(static x => x.Status != HttpStatusCode.OK), answer => Assert.Equal(1, answer.RetryAfter));
        _origins[0].Behavior.DelayMs = 0;

        // The permits come back when the responses complete.
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(proxy.Client, "/images/cat.jpg")).Status);
    }

    [Fact]
    public async Task ClientIp_BehindATrustedProxy_IsTheForwardedAddress_AndAnUntrustedClientCannotChooseIt()
    {
        var config = JsonNode.Parse(Config(new JsonObject { ["Kind"] = "FixedWindow", ["PermitLimit"] = 2, ["Window"] = "00:01:00" }))!;
        config["LbProxy"]!["Headers"] = new JsonObject { ["TrustedProxies"] = new JsonArray("127.0.0.1") };
        await using var proxy = await TestProxy.StartAsync(config.ToJsonString());
        using var untrusted = ClientFrom("127.0.0.2", proxy.Address);

        // From the trusted proxy (127.0.0.1), the client is the nearest untrusted X-Forwarded-For entry.
        Assert.Equal(new[] { 200, 200, 429 }, await StatusesAsync(proxy.Client, 3, ("X-Forwarded-For", "203.0.113.7")));
        Assert.Equal(new[] { 200 }, await StatusesAsync(proxy.Client, 1, ("X-Forwarded-For", "203.0.113.8")));
        Assert.Equal(new[] { 200, 429 }, await StatusesAsync(proxy.Client, 2, ("X-Forwarded-For", "198.51.100.1, 203.0.113.8, 127.0.0.1")));

        // From an untrusted address, X-Forwarded-For is the client's own claim: the partition is the connection's.
        Assert.Equal(new[] { 200, 200 }, await StatusesAsync(untrusted, 2, ("X-Forwarded-For", "203.0.113.50")));
        Assert.Equal(new[] { 429 }, await StatusesAsync(untrusted, 1, ("X-Forwarded-For", "203.0.113.51")));
    }

    [Fact]
    public async Task Header_PartitionsByItsValue_AndRequestsWithoutItShareOnePartition()
    {
        await using var proxy = await TestProxy.StartAsync(Config(
            new JsonObject { ["Kind"] = "FixedWindow", ["PermitLimit"] = 2, ["Window"] = "00:01:00", ["PartitionBy"] = "Header:X-Api-Key" }));

        Assert.Equal(new[] { 200, 200, 429 }, await StatusesAsync(proxy.Client, 3, ("X-Api-Key", "alpha")));
        Assert.Equal(new[] { 200, 200, 429 }, await StatusesAsync(proxy.Client, 3, ("X-Api-Key", "beta")));
        Assert.Equal(new[] { 200, 200, 429 }, await StatusesAsync(proxy.Client, 3));
        Assert.Equal(new[] { 200, 200, 429 }, await StatusesAsync(proxy.Client, 3, ("X-Api-Key", new string('k', 500))));
    }

    [Theory]
    [InlineData("Route", new[] { 200, 200, 429 }, new[] { 200, 200, 429 })]
    [InlineData("None", new[] { 200, 200, 429 }, new[] { 429, 429, 429 })]
    public async Task RouteAndNone_PartitionPerRouteOrNotAtAll(string partitionBy, int[] first, int[] second)
    {
        var config = JsonNode.Parse(Config(
            new JsonObject { ["Kind"] = "FixedWindow", ["PermitLimit"] = 2, ["Window"] = "00:01:00", ["PartitionBy"] = partitionBy }))!;
        config["ReverseProxy"]!["Routes"]!["other"] = new JsonObject
        {
            ["ClusterId"] = "images", ["RateLimiterPolicy"] = "perClient", ["Match"] = new JsonObject { ["Path"] = "/other/{**path}" },
        };
        await using var proxy = await TestProxy.StartAsync(config.ToJsonString());
        using var other = ClientFrom("127.0.0.2", proxy.Address);

        Assert.Equal(first, await StatusesAsync(proxy.Client, 3));
        Assert.Equal(second, await StatusesAsync(other, 3, path: "/other/cat.jpg"));
    }

    [Fact]
    public async Task Reload_ChangesFiguresAndAddsAPolicyLive_AndAnUnknownNameIsRefusedWithItsPlace()
    {
        await using var proxy = await TestProxy.StartAsync(
            Config(new JsonObject { ["Kind"] = "FixedWindow", ["PermitLimit"] = 2, ["Window"] = "00:01:00" }), TestProxy.FastReload);
        Assert.Equal(new[] { 200, 200, 429 }, await StatusesAsync(proxy.Client, 3));

        // New figures for perClient, a new policy, and a new route naming it: one edit of the file on disk.
        var edited = JsonNode.Parse(Config(new JsonObject { ["Kind"] = "FixedWindow", ["PermitLimit"] = 4, ["Window"] = "00:01:00" }))!;
        edited["LbProxy"]!["RateLimits"]!["strict"] = new JsonObject { ["Kind"] = "TokenBucket", ["TokenLimit"] = 1, ["TokensPerPeriod"] = 1, ["ReplenishmentPeriod"] = "00:01:00" };
        edited["ReverseProxy"]!["Routes"]!["strict"] = new JsonObject
        {
            ["ClusterId"] = "images", ["RateLimiterPolicy"] = "strict", ["Match"] = new JsonObject { ["Path"] = "/strict/{**path}" },
        };
        await File.WriteAllTextAsync(proxy.ConfigPath, edited.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        await Poll.UntilAsync(() => State(proxy).Generation == 2, Bound, "the edit applied", () => $"{State(proxy)}");

        Assert.Equal(new[] { 200, 200, 200, 200, 429 }, await StatusesAsync(proxy.Client, 5));
        Assert.Equal(new[] { 200, 429 }, await StatusesAsync(proxy.Client, 2, path: "/strict/cat.jpg"));

        // A route naming a policy that does not exist: refused with its place, and the last good config serves on.
        var bad = edited.DeepClone();
        bad["ReverseProxy"]!["Routes"]!["strict"]!["RateLimiterPolicy"] = "nope";
        var badText = bad.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
        await File.WriteAllTextAsync(proxy.ConfigPath, badText);
        await Poll.UntilAsync(() => State(proxy).ReloadsRejected == 1, Bound, "the bad edit refused", () => $"{State(proxy)}");

        var (line, column) = PlaceOf(badText, "\"RateLimiterPolicy\": \"nope\"");
        Assert.Contains(
            $"yarp.json:{line}:{column}: ReverseProxy:Routes:strict:RateLimiterPolicy: route 'strict' names rate limit policy 'nope', which LbProxy:RateLimits does not define (it defines perClient, strict)",
            State(proxy).LastError);
        Assert.Equal(2, State(proxy).Generation);
        Assert.Equal(new[] { 429 }, await StatusesAsync(proxy.Client, 1, path: "/strict/cat.jpg"));
    }

    [Fact]
    public async Task Validate_AcceptsADefinedPolicy_AndRefusesAnUnknownOneWithFileLineAndColumn()
    {
        using var directory = new TempDirectory();
        var good = Config(new JsonObject { ["Kind"] = "FixedWindow", ["PermitLimit"] = 2 });
        var goodPath = Path.Combine(directory.Path, "good.json");
        await File.WriteAllTextAsync(goodPath, good);
        var badText = good.Replace("\"RateLimiterPolicy\": \"perClient\"", "\"RateLimiterPolicy\": \"perclent\"", StringComparison.Ordinal)
            .Replace("\"PermitLimit\": 2", "\"PermitLimit\": 0", StringComparison.Ordinal);
        var badPath = Path.Combine(directory.Path, "bad.json");
        await File.WriteAllTextAsync(badPath, badText);

        var (goodExit, goodOutput) = await ProxyProcess.RunToExitAsync(directory.Path, Bound, "validate", goodPath);
        var (badExit, badOutput) = await ProxyProcess.RunToExitAsync(directory.Path, Bound, "validate", badPath);

        Assert.True(goodExit == 0, goodOutput);
        Assert.Equal(1, badExit);
        var (line, column) = PlaceOf(badText, "\"RateLimiterPolicy\": \"perclent\"");
        Assert.Contains($"bad.json:{line}:{column}: ReverseProxy:Routes:images:RateLimiterPolicy: route 'images' names rate limit policy 'perclent'", badOutput);
        (line, column) = PlaceOf(badText, "\"PermitLimit\": 0");
        Assert.Contains($"bad.json:{line}:{column}: LbProxy:RateLimits:perClient:PermitLimit: PermitLimit must be a whole number from 1 to 1000000, not '0'", badOutput);
        Assert.Contains("2 error(s)", badOutput);
    }

    [Fact]
    public async Task ManyDistinctKeys_KeepThePartitionGaugeWithinTheCap_AndIdlePartitionsGo()
    {
        await using var proxy = await TestProxy.StartAsync(Config(new JsonObject
        {
            ["Kind"] = "TokenBucket", ["TokenLimit"] = 2, ["TokensPerPeriod"] = 2, ["ReplenishmentPeriod"] = "00:00:00.100",
            ["PartitionBy"] = "Header:X-Client", ["MaxPartitions"] = 128,
        }));

        // Up to 200,000 distinct keys or 40 s, whichever ends first, 8 at a time; the gauge is read as they go.
        var clock = Stopwatch.StartNew();
        var sent = 0;
        var highest = 0.0;
        var statuses = new int[600];
        var workers = Enumerable.Range(0, 8).Select(async worker =>
        {
            for (var i = worker; i < 200_000 && clock.Elapsed < TimeSpan.FromSeconds(40); i += 8)
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, "/images/cat.jpg");
                request.Headers.Add("X-Client", $"client-{i}");
                using var response = await proxy.Client.SendAsync(request);
                Interlocked.Increment(ref statuses[(int)response.StatusCode]);
                Interlocked.Increment(ref sent);
            }
        }).ToList();
        while (!Task.WhenAll(workers).IsCompleted)
        {
            var scrape = await MetricsScrape.TakeAsync(proxy.Client);
            highest = Math.Max(highest, scrape.Sum("lbproxy_ratelimit_partitions", ("policy", "perClient")));
            await Task.Delay(200);
        }

        await Task.WhenAll(workers);
        var final = await MetricsScrape.TakeAsync(proxy.Client);
        highest = Math.Max(highest, final.Sum("lbproxy_ratelimit_partitions", ("policy", "perClient")));

        Assert.True(sent >= 20 * 128, $"only {sent} distinct keys sent");
        Assert.Equal(sent, statuses[200] + statuses[429]);
        Assert.InRange(highest, 1, 128);

        // Idle partitions go: once traffic stops, every own partition leaves; at most the 64 shared ones stay.
        var status = await Poll.UntilAsync(() => StatusAsync(proxy), s => s[0]!["partitions"]!.GetValue<int>() == s[0]!["sharedPartitions"]!.GetValue<int>(),
            Bound, "the idle partitions gone", static s => s.ToJsonString());
        Assert.InRange(status[0]!["sharedPartitions"]!.GetValue<int>(), 0, 64);
    }

    /// <summary>A config with route <c>images</c> naming policy <c>perClient</c>.</summary>
    private string Config(JsonObject policy)
    {
        var config = JsonNode.Parse(new TestConfig().Route("images", "images", "/images/{**path}").Cluster("images", _origins.All).ToJson())!;
        config["ReverseProxy"]!["Routes"]!["images"]!["RateLimiterPolicy"] = "perClient";
        config["LbProxy"]!["RateLimits"] = new JsonObject { ["perClient"] = policy };
        return config.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }

    private static ConfigStatus State(TestProxy proxy) => proxy.Services.GetRequiredService<ConfigState>().Current;

    private static async Task<JsonArray> StatusAsync(TestProxy proxy)
    {
        var document = JsonNode.Parse(await proxy.Client.GetStringAsync("/_lb/status"))!;
        return document["rateLimits"]!.AsArray();
    }

    private static (int Line, int Column) PlaceOf(string text, string fragment)
    {
        var index = text.IndexOf(fragment, StringComparison.Ordinal);
        Assert.True(index >= 0, fragment);
        var before = text[..index];
        var lineStart = before.LastIndexOf('\n') + 1;
        return (before.Count(static c => c == '\n') + 1, index - lineStart + 1);
    }

    private static async Task<int[]> StatusesAsync(HttpClient client, int count, (string Name, string Value)? header = null, string path = "/images/cat.jpg")
    {
        var statuses = new int[count];
        for (var i = 0; i < count; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, path);
            if (header is { } h)
            {
                request.Headers.TryAddWithoutValidation(h.Name, h.Value);
            }

            using var response = await client.SendAsync(request);
            statuses[i] = (int)response.StatusCode;
        }

        return statuses;
    }

    private static async Task<Answer> SendAsync(HttpClient client, string path)
    {
        using var response = await client.GetAsync(path);
        var retryAfter = response.Headers.RetryAfter?.Delta is { } delta ? (int)delta.TotalSeconds : -1;
        var body = response.StatusCode == HttpStatusCode.TooManyRequests ? await response.Content.ReadAsStringAsync() : "";
        return new Answer(response.StatusCode, retryAfter, body);
    }

    /// <summary>A client whose connections leave from <paramref name="source"/> (all of 127/8 is loopback on Linux).</summary>
    private static HttpClient ClientFrom(string source, Uri proxy) => new(new SocketsHttpHandler
    {
        AllowAutoRedirect = false,
        UseCookies = false,
        ConnectCallback = async (context, cancellationToken) =>
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                socket.Bind(new IPEndPoint(IPAddress.Parse(source), 0));
                await socket.ConnectAsync(context.DnsEndPoint, cancellationToken);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        },
    })
    {
        BaseAddress = proxy,
        Timeout = Bound,
    };

    private sealed record Answer(HttpStatusCode Status, int RetryAfter, string Body);
}
