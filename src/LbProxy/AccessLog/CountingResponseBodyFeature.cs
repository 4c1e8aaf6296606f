using System.IO.Pipelines;
using Microsoft.AspNetCore.Http.Features;

namespace LbProxy.AccessLog;

/// <summary>
/// Counts the response body bytes that pass to the server's own body feature, for <c>{bytes}</c>. Nothing
/// is buffered here: every call goes straight through, so the server's behaviour (when the response
/// starts, flushing, completion) is unchanged. Installed only for templates that use <c>{bytes}</c>.
/// </summary>
internal sealed class CountingResponseBodyFeature(IHttpResponseBodyFeature inner) : IHttpResponseBodyFeature
{
    private CountingStream? _stream;
    private CountingPipeWriter? _writer;
    private long _bytes;

    public IHttpResponseBodyFeature Inner => inner;

    public long Bytes => Interlocked.Read(ref _bytes);

    public Stream Stream => _stream ??= new CountingStream(this, inner.Stream);

    public PipeWriter Writer => _writer ??= new CountingPipeWriter(this, inner.Writer);

    public void DisableBuffering() => inner.DisableBuffering();

    public Task StartAsync(CancellationToken cancellationToken = default) => inner.StartAsync(cancellationToken);

    public Task CompleteAsync() => inner.CompleteAsync();

    public Task SendFileAsync(string path, long offset, long? count, CancellationToken cancellationToken = default)
    {
        Add(count ?? Math.Max(0, new FileInfo(path).Length - offset));
        return inner.SendFileAsync(path, offset, count, cancellationToken);
    }

    internal void Add(long bytes) => Interlocked.Add(ref _bytes, bytes);
}
