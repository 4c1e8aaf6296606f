using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;
using LbProxy.Tests.Infrastructure;
using Xunit.Abstractions;

namespace LbProxy.Tests.Functional;

/// <summary>
/// HTTP/2 floods from a raw client over real TLS: rapid reset, CONTINUATION flood, and a client that opens streams
/// faster than it reads. Each one's connection is cut, the origin sees a bounded number of requests, and a second,
/// well-behaved HTTP/2 client keeps getting the origin's exact bytes during the flood and after it.
/// </summary>
public sealed class Http2FloodTests(ITestOutputHelper output) : IAsyncLifetime, IDisposable
{
    private const string Host = "a.test";
    private const string Image = "/images/sample.jpg";
    private const uint ProtocolError = 0x1;
    private const int MaxStreams = 100;   // Kestrel:Limits:Http2:MaxStreamsPerConnection, the edge default

    private static readonly TimeSpan ActivityTimeout = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan FloodBound = TimeSpan.FromSeconds(20);

    private readonly TlsSetup _setup = new();
    private readonly StallingOrigin _stalling = new();
    private TestProxy _proxy = null!;
    private byte[] _expected = [];

    public async Task InitializeAsync()
    {
        await _setup.StartAsync();
        await _setup.Layout.AddAsync(Host);
        var config = JsonNode.Parse(new TestConfig()
            .Route("everything", "images", "/{**path}")
            .Cluster("images", _setup.Origins.All)
            .Route("stalling", "stalling", "/stall/{**path}")
            .Cluster("stalling", [("stalling", _stalling.Address)])
            .ToJson())!.AsObject();
        config["Kestrel"] = _setup.Layout.Kestrel(Host);
        var path = Path.Combine(_setup.Layout.Directory.FullName, "yarp.json");
        await File.WriteAllTextAsync(path, config.ToJsonString());
        // A short activity timeout: how long a response may wait for a client that takes no bytes (30 s by default).
        _proxy = await TestProxy.StartWithFileAsync(path, "--LbProxy:Forwarding:ActivityTimeout", ActivityTimeout.ToString());
        using var direct = new HttpClient { BaseAddress = _setup.Origins[0].Address };
        _expected = await direct.GetByteArrayAsync(Image);
    }

    public async Task DisposeAsync()
    {
        await _proxy.DisposeAsync();
        await _setup.DisposeAsync();
        await _stalling.DisposeAsync();
    }

    public void Dispose() => _setup.Dispose();

    [Fact]
    public async Task RapidReset_HeadersThenRstStream_ConnectionCut()
    {
        var observed = await FloodAsync(async flood =>
        {
            var watch = Stopwatch.StartNew();
            var headers = MinimalHpack.Get(Host, Image);
            for (var i = 0; i < 20_000 && watch.Elapsed < TimeSpan.FromSeconds(10) && !flood.IsClosed; i++)
            {
                var id = flood.NextStreamId();
                var flush = i % 10 == 9;
                if (!await flood.WriteFrameAsync(Http2FrameType.Headers, Http2Frame.EndHeaders | Http2Frame.EndStream, id, headers, flush: false)
                    || !await flood.RstStreamAsync(id, flush: flush))
                {
                    break;
                }
            }
        });
        output.WriteLine(observed.ToString());

        // Kestrel's own mitigation (since the 2023 fix): streams reset while their request still runs are counted,
        // and the connection is aborted long before the flood's 20,000 streams. The origin saw almost none of them.
        Assert.True(observed.Closed, observed.ToString());
        Assert.InRange(observed.StreamsOpened, 1, 19_999);
        Assert.InRange(observed.OriginRequests, 0, 2 * MaxStreams);
    }

    [Fact]
    public async Task ContinuationFlood_WithHeaderBytes_ConnectionCut()
    {
        var observed = await FloodAsync(async flood =>
        {
            var watch = Stopwatch.StartNew();
            var id = flood.NextStreamId();
            await flood.WriteFrameAsync(Http2FrameType.Headers, Http2Frame.EndStream, id, MinimalHpack.Get(Host, Image));
            var filler = MinimalHpack.Encode(("x-filler", new string('a', 1000)));
            for (var i = 0; i < 100_000 && watch.Elapsed < TimeSpan.FromSeconds(10) && !flood.IsClosed; i++)
            {
                if (!await flood.WriteFrameAsync(Http2FrameType.Continuation, 0, id, filler))
                {
                    break;
                }
            }
        });
        output.WriteLine(observed.ToString());

        // The header block passes MaxRequestHeadersTotalSize (32 KB) after some 32 frames: GOAWAY PROTOCOL_ERROR and
        // the connection closed. (The client had already handed more frames to its socket when it read the GOAWAY.)
        Assert.True(observed.Closed, observed.ToString());
        Assert.Equal([ProtocolError], observed.GoAwayCodes);
        Assert.InRange(observed.FramesSent, 1, 99_999);
        Assert.Equal(0, observed.OriginRequests);
    }

    [Fact]
    public async Task ContinuationFlood_EmptyFrames_ConnectionCutAtTheHeadersTimeout()
    {
        var observed = await FloodAsync(async flood =>
        {
            var watch = Stopwatch.StartNew();
            var id = flood.NextStreamId();
            await flood.WriteFrameAsync(Http2FrameType.Headers, Http2Frame.EndStream, id, MinimalHpack.Get(Host, Image));
            for (var i = 0; i < 5_000_000 && watch.Elapsed < FloodBound && !flood.IsClosed; i++)
            {
                if (!await flood.WriteFrameAsync(Http2FrameType.Continuation, 0, id, ReadOnlyMemory<byte>.Empty, flush: i % 100 == 99))
                {
                    break;
                }
            }
        });
        output.WriteLine(observed.ToString());

        // Empty frames never grow the header block, so no size limit applies: Kestrel reads every one of them (hundreds
        // of thousands) and closes the connection when the header block has taken RequestHeadersTimeout (10 s), an HTTP/2
        // header block's deadline as much as an HTTP/1.1 head's. Cut while the flood still ran, before its own bound.
        Assert.True(observed.Closed, observed.ToString());
        Assert.True(observed.FloodEnded < FloodBound, observed.ToString());
        Assert.InRange(observed.FramesSent, 1, 4_999_999);
        Assert.Equal(0, observed.OriginRequests);
    }

    [Fact]
    public async Task StreamsFasterThanRead_WithinTheStreamLimit_ConnectionCutAfterTheActivityTimeout()
    {
        // As many streams as the server allows, none ever read: a client within every rule but the will to read.
        var observed = await FloodAsync(flood => OpenUnreadStreamsAsync(flood, MaxStreams), ZeroWindow);
        output.WriteLine(observed.ToString());

        // Kestrel starts every stream (their response headers come, their bodies cannot) and times no stream that waits
        // for a window; after each activity timeout YARP gave the streams up, Kestrel reset them, and the client could
        // open 100 more on the same connection, for ever. LbProxy closes the connection at the first such stream
        // (Edge/StalledClientCut). The origin saw one request per stream, no more.
        Assert.True(observed.Closed, observed.ToString());
        Assert.DoesNotContain(0u, observed.GoAwayCodes);
        Assert.InRange(observed.HeadersReceived, 1, MaxStreams);
        Assert.InRange(observed.OriginRequests, 1, MaxStreams);
    }

    [Fact]
    public async Task StreamsFasterThanRead_PastTheStreamLimit_ConnectionCut()
    {
        var observed = await FloodAsync(flood => OpenUnreadStreamsAsync(flood, 5_000), ZeroWindow);
        output.WriteLine(observed.ToString());

        // Streams past the limit are refused (REFUSED_STREAM), and Kestrel aborts a connection that keeps opening them:
        // by its count of refused streams or by its output queue's limit, whichever comes first (both seen here, the
        // frames in flight then lost with the connection), else LbProxy's cut above applies. The origin saw at most
        // the streams Kestrel let through.
        Assert.True(observed.Closed, observed.ToString());
        Assert.InRange(observed.HeadersReceived, 0, MaxStreams);
        Assert.InRange(observed.OriginRequests, 0, MaxStreams);
    }

    [Fact]
    public async Task OriginStalledMidBody_OnlyItsStreamIsReset_TheClientsConnectionStays()
    {
        // The cut above is for a client that takes no bytes; an origin gone silent in the middle of a body is not the
        // client's doing, and the client's other streams on the same connection must live on.
        await using var client = await RawHttp2Client.ConnectAsync(_setup.Layout.HttpsPort, Host);
        var stalled = client.NextStreamId();
        Assert.True(await client.WriteFrameAsync(Http2FrameType.Headers, Http2Frame.EndHeaders | Http2Frame.EndStream, stalled, MinimalHpack.Get(Host, "/stall/big.jpg")));
        await Poll.UntilAsync(() => client.Received(Http2FrameType.RstStream).Any(f => f.StreamId == stalled) || client.IsClosed,
            ActivityTimeout + TimeSpan.FromSeconds(20), "the stalled stream reset");
        Assert.False(client.IsClosed, "the connection was closed for an origin's stall");
        Assert.Equal(1, _stalling.Requests);

        var next = client.NextStreamId();
        Assert.True(await client.WriteFrameAsync(Http2FrameType.Headers, Http2Frame.EndHeaders | Http2Frame.EndStream, next, MinimalHpack.Get(Host, Image)));
        await Poll.UntilAsync(() => client.Received(Http2FrameType.Headers).Any(f => f.StreamId == next) || client.IsClosed,
            TimeSpan.FromSeconds(20), "the next stream's response");
        Assert.False(client.IsClosed);
    }

    /// <summary>SETTINGS_INITIAL_WINDOW_SIZE = 0: the server may send no DATA until a WINDOW_UPDATE that never comes.</summary>
    private static readonly (ushort Id, uint Value)[] ZeroWindow = [(0x4, 0)];

    /// <summary>Opens up to <paramref name="count"/> streams, each a GET of a large image, as fast as it can (10 s at most).</summary>
    private static async Task OpenUnreadStreamsAsync(RawHttp2Client flood, int count)
    {
        var watch = Stopwatch.StartNew();
        var headers = MinimalHpack.Get(Host, "/images/large.webp");
        for (var i = 0; i < count && watch.Elapsed < TimeSpan.FromSeconds(10) && !flood.IsClosed; i++)
        {
            if (!await flood.WriteFrameAsync(Http2FrameType.Headers, Http2Frame.EndHeaders | Http2Frame.EndStream, flood.NextStreamId(), headers, flush: i % 10 == 9 || i == count - 1))
            {
                break;
            }
        }
    }

    /// <summary>
    /// Runs <paramref name="flood"/> on a raw connection while a well-behaved HTTP/2 client keeps fetching the image,
    /// waits (bounded) for the proxy to close the flooding connection, then checks the good client once more.
    /// </summary>
    private async Task<FloodResult> FloodAsync(Func<RawHttp2Client, Task> flood, params (ushort Id, uint Value)[] settings)
    {
        using var good = TlsProbe.Client(_setup.Certificates.Ca, _setup.Layout.HttpsPort, Host);
        Assert.Equal(_expected, await good.GetByteArrayAsync(Image));
        var originBefore = _setup.Origins[0].RequestCount;

        using var stopGood = new CancellationTokenSource();
        var goodDuring = GoodTrafficAsync(good, stopGood.Token);
        var watch = Stopwatch.StartNew();
        await using var client = await RawHttp2Client.ConnectAsync(_setup.Layout.HttpsPort, Host, settings);
        await flood(client);
        var floodEnded = watch.Elapsed;
        await Task.WhenAny(client.Closed, Task.Delay(ActivityTimeout + TimeSpan.FromSeconds(20)));
        var closedAt = client.IsClosed ? watch.Elapsed : (TimeSpan?)null;
        await stopGood.CancelAsync();
        var goodCount = await goodDuring;

        // After the flood: the proxy is up and serves the same bytes.
        Assert.Equal(_expected, await good.GetByteArrayAsync(Image));
        var originRequests = _setup.Origins[0].RequestCount - originBefore - goodCount - 1;
        var goAway = client.Received(Http2FrameType.GoAway);
        return new FloodResult(
            client.StreamsOpened,
            client.FramesSent,
            client.IsClosed,
            closedAt,
            floodEnded,
            goAway.Select(static g => g.ErrorCode).ToArray(),
            [.. client.Received(Http2FrameType.RstStream).Select(static r => r.ErrorCode).Distinct()],
            client.Received(Http2FrameType.Headers).Count,
            originRequests,
            goodCount);
    }

    /// <summary>
    /// GETs one after another, at least 5 and until stopped (at most 10,000), each the origin's exact bytes over
    /// HTTP/2; returns how many.
    /// </summary>
    private async Task<int> GoodTrafficAsync(HttpClient good, CancellationToken stop)
    {
        var count = 0;
        while ((count < 5 || !stop.IsCancellationRequested) && count < 10_000)
        {
            using var response = await good.GetAsync(Image, CancellationToken.None);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(HttpVersion.Version20, response.Version);
            Assert.Equal(_expected, await response.Content.ReadAsByteArrayAsync(CancellationToken.None));
            count++;
        }

        return count;
    }

    private sealed record FloodResult(
        int StreamsOpened,
        long FramesSent,
        bool Closed,
        TimeSpan? ClosedAt,
        TimeSpan FloodEnded,
        uint[] GoAwayCodes,
        uint[] RstStreamCodes,
        int HeadersReceived,
        long OriginRequests,
        int GoodRequests)
    {
        public override string ToString() =>
            $"streams={StreamsOpened} frames={FramesSent} closed={Closed} closedAt={ClosedAt} floodEnded={FloodEnded} goaway=[{string.Join(",", GoAwayCodes)}] " +
            $"rst=[{string.Join(",", RstStreamCodes)}] headers={HeadersReceived} originRequests={OriginRequests} good={GoodRequests}";
    }
}
