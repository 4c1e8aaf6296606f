using System.Text;
using LbProxy.AccessLog;
using LbProxy.Tests.Infrastructure;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Options;

namespace LbProxy.Tests.AccessLog;

/// <summary>
/// The access log on a disk that is full, on real files: a line the disk did not take is counted dropped, never
/// written; the episode is logged once with its reason and once when writes succeed again.
/// </summary>
public sealed partial class AccessLogFullDiskTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task DevFull_EveryLineCountedDropped_OneErrorWithTheReason()
    {
        using var meters = new TestMeterFactory();
        var counters = new AccessLogCounters(meters);
        var logs = new FakeLogCollector();
        await using var writer = Writer(AccessLogOutput.AppendFile("/dev/full"), counters, logs);

        for (var i = 0; i < 100; i++)
        {
            writer.Enqueue($"line {i}");
            if (i % 10 == 0)
            {
                await Task.Yield();
            }
        }

        await Poll.UntilAsync(() => counters.Get(AccessLogOutcome.Dropped) == 100, Bound, "100 lines dropped",
            () => $"written {counters.Get(AccessLogOutcome.Written)}, dropped {counters.Get(AccessLogOutcome.Dropped)}");
        Assert.Equal(0, counters.Get(AccessLogOutcome.Written));
        var failed = Assert.Single(logs.GetSnapshot(), static r => r.Id.Id == LbProxy.LogEvents.AccessLogWriteFailed);
        Assert.Contains("No space left on device", failed.Message, StringComparison.Ordinal);
        Assert.Contains("No space left on device", writer.WriteFailure, StringComparison.Ordinal);
        Assert.DoesNotContain(logs.GetSnapshot(), static r => r.Id.Id == LbProxy.LogEvents.AccessLogWriteRecovered);
    }

    [RequiresMountFact]
    public async Task FullTmpfs_LinesLostAreDroppedNotWritten_RecoveryLoggedOnce_FileHoldsExactlyTheWrittenOnes()
    {
        using var disk = SmallFileSystem.Mount(64);
        var path = Path.Combine(disk.Path, "access.log");
        using var meters = new TestMeterFactory();
        var counters = new AccessLogCounters(meters);
        var logs = new FakeLogCollector();
        await using (var writer = Writer(AccessLogOutput.AppendFile(path), counters, logs))
        {
            await WriteAsync(writer, "before", 20);
            await Poll.UntilAsync(() => counters.Get(AccessLogOutcome.Written) == 20, Bound, "20 lines written");

            var filler = disk.Fill();
            await WriteAsync(writer, "lost", 3000);
            await Poll.UntilAsync(() => counters.Get(AccessLogOutcome.Written) + counters.Get(AccessLogOutcome.Dropped) == 3020, Bound,
                "3,020 lines accounted for", () => $"written {counters.Get(AccessLogOutcome.Written)}, dropped {counters.Get(AccessLogOutcome.Dropped)}");
            Assert.NotNull(writer.WriteFailure);

            File.Delete(filler);
            await WriteAsync(writer, "after", 30);
            await Poll.UntilAsync(() => counters.Get(AccessLogOutcome.Written) + counters.Get(AccessLogOutcome.Dropped) == 3050, Bound,
                "3,050 lines accounted for");
            Assert.Null(writer.WriteFailure);
        }

        var lines = (await File.ReadAllTextAsync(path)).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        // A batch cut by the full disk may leave a fragment without its newline, which the next line then follows:
        // every line counted written ends a line of the file, whole. The batch the disk filled up in is counted
        // dropped whole, though its first lines may have reached the disk: at most one batch more than counted.
        var whole = lines.Select(static l => WholeLine().Match(l)).Where(static m => m.Success).Select(static m => m.Value).ToList();
        var written = counters.Get(AccessLogOutcome.Written);
        Assert.InRange(whole.Count, written, written + StreamAccessLogOutput.BatchBytes / "lost 0000\n".Length);
        Assert.InRange(written, 50, 3050 - 1);
        Assert.Equal(20, whole.Count(static l => l.StartsWith("before ", StringComparison.Ordinal)));
        Assert.Equal(30, whole.Count(static l => l.StartsWith("after ", StringComparison.Ordinal)));
        Assert.InRange(counters.Get(AccessLogOutcome.Dropped), 1, 3000);
        Assert.Single(logs.GetSnapshot(), static r => r.Id.Id == LbProxy.LogEvents.AccessLogWriteFailed);
        var recovered = Assert.Single(logs.GetSnapshot(), static r => r.Id.Id == LbProxy.LogEvents.AccessLogWriteRecovered);
        Assert.Contains($"{counters.Get(AccessLogOutcome.Dropped)} lines were dropped", recovered.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AppendFile_KeepsWhatIsThere_AndAfterATruncateWritesAtTheNewEnd()
    {
        using var directory = new TempDirectory();
        var path = Path.Combine(directory.Path, "access.log");
        await File.WriteAllTextAsync(path, "earlier\n");
        using var meters = new TestMeterFactory();
        var counters = new AccessLogCounters(meters);
        await using (var writer = Writer(AccessLogOutput.AppendFile(path), counters, new FakeLogCollector()))
        {
            await WriteAsync(writer, "first", 100);
            await Poll.UntilAsync(() => counters.Get(AccessLogOutcome.Written) == 100, Bound, "100 lines written");

            // logrotate's copytruncate: the file is emptied under the open writer.
            await using (var truncate = new FileStream(path, FileMode.Truncate, FileAccess.Write, FileShare.ReadWrite))
            {
            }

            await WriteAsync(writer, "second", 10);
            await Poll.UntilAsync(() => counters.Get(AccessLogOutcome.Written) == 110, Bound, "110 lines written");
        }

        var content = await File.ReadAllBytesAsync(path);
        Assert.DoesNotContain((byte)0, content);
        Assert.Equal(string.Concat(Enumerable.Range(0, 10).Select(static i => $"second {i:0000}\n")), Encoding.UTF8.GetString(content));
    }

    private static async Task WriteAsync(AccessLogWriter writer, string label, int count)
    {
        for (var i = 0; i < count; i++)
        {
            writer.Enqueue($"{label} {i:0000}");
            if (i % 100 == 99)
            {
                await Task.Delay(5); // the buffer (10,000 lines) never fills: every loss here is the disk's
            }
        }
    }

    [System.Text.RegularExpressions.GeneratedRegex("(before|lost|after) [0-9]{4}$")]
    private static partial System.Text.RegularExpressions.Regex WholeLine();

    private static AccessLogWriter Writer(AccessLogOutput output, AccessLogCounters counters, FakeLogCollector logs) => new(
        Options.Create(new AccessLogOptions()),
        output,
        counters,
        TimeProvider.System,
        new FakeLogger<AccessLogWriter>(logs));
}
