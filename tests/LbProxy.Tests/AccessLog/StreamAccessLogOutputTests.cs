using System.Text;
using LbProxy.AccessLog;

namespace LbProxy.Tests.AccessLog;

public sealed class StreamAccessLogOutputTests
{
    [Fact]
    public void WriteThenFlush_LinesEndWithNewlineInOneWrite()
    {
        var stream = new RecordingStream();
        using var output = new StreamAccessLogOutput(stream);

        output.Write("first"u8);
        output.Write("zweite Zeile é"u8);
        Assert.Empty(stream.Writes);
        output.Flush();

        Assert.Equal(["first\nzweite Zeile é\n"], stream.Writes);
    }

    [Fact]
    public void Write_ManyLines_NoWriteLargerThanABatchAndNoLineCut()
    {
        var stream = new RecordingStream();
        using var output = new StreamAccessLogOutput(stream);
        var lines = Enumerable.Range(0, 200).Select(i => $"line {i} " + new string('x', i % 97)).ToList();

        foreach (var line in lines)
        {
            output.Write(Encoding.UTF8.GetBytes(line));
        }

        output.Flush();

        Assert.All(stream.Writes, w => Assert.True(Encoding.UTF8.GetByteCount(w) <= StreamAccessLogOutput.BatchBytes));
        Assert.All(stream.Writes, w => Assert.EndsWith("\n", w, StringComparison.Ordinal));
        Assert.Equal(lines, string.Concat(stream.Writes).TrimEnd('\n').Split('\n'));
    }

    [Fact]
    public void Write_LineLongerThanABatch_WrittenWholeOnItsOwn()
    {
        var stream = new RecordingStream();
        using var output = new StreamAccessLogOutput(stream);
        var longLine = new string('a', StreamAccessLogOutput.BatchBytes + 10);

        output.Write("short"u8);
        output.Write(Encoding.UTF8.GetBytes(longLine));
        output.Flush();

        Assert.Equal(["short\n", longLine + "\n"], stream.Writes);
    }

    [Fact]
    public void Flush_StreamFails_NoException()
    {
        using var output = new StreamAccessLogOutput(new FailingStream());

        output.Write("lost"u8);
        output.Flush();
        output.Write("lost too"u8);
    }

    [Fact]
    public void Dispose_FlushesWhatIsKept()
    {
        var stream = new RecordingStream();
        var output = new StreamAccessLogOutput(stream);
        output.Write("last"u8);

        output.Dispose();

        Assert.Equal(["last\n"], stream.Writes);
    }

    private sealed class RecordingStream : MemoryStream
    {
        public List<string> Writes { get; } = [];

        public override void Write(ReadOnlySpan<byte> buffer) => Writes.Add(Encoding.UTF8.GetString(buffer));

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));
    }

    private sealed class FailingStream : MemoryStream
    {
        public override void Write(ReadOnlySpan<byte> buffer) => throw new IOException("Broken pipe");

        public override void Write(byte[] buffer, int offset, int count) => throw new IOException("Broken pipe");
    }
}
