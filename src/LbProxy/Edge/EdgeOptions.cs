using Microsoft.Extensions.Options;

namespace LbProxy.Edge;

/// <summary>What every request meets first: <c>LbProxy:Edge</c>.</summary>
internal sealed class EdgeOptions
{
    public const string SectionName = "LbProxy:Edge";

    public const int MaxBufferBodyUpTo = 1024 * 1024;

    /// <summary>
    /// Request bodies up to this many bytes (by their <c>Content-Length</c>, or chunked bodies that end within it) are
    /// read whole and their framing checked before anything goes upstream, as nginx does with its
    /// <c>client_body_buffer_size</c> (16 KB on 64-bit): a malformed body is then a 400 that no origin sees. Larger bodies
    /// stream. 0 turns buffering off.
    /// </summary>
    public int BufferBodyUpTo { get; set; } = 16 * 1024;

    /// <summary>
    /// A client owed response bytes that takes fewer than 240 B/s of them over this long has its connection reset
    /// (<see cref="SlowReaderCut"/>), HTTP/1.1 or HTTP/2: the activity timeout's default. 0 turns the cut off.
    /// </summary>
    public TimeSpan SlowReaderTimeout { get; set; } = TimeSpan.FromSeconds(30);
}

internal sealed class EdgeOptionsValidator : IValidateOptions<EdgeOptions>
{
    public ValidateOptionsResult Validate(string? name, EdgeOptions options) =>
        options.BufferBodyUpTo is < 0 or > EdgeOptions.MaxBufferBodyUpTo
            ? ValidateOptionsResult.Fail($"{nameof(EdgeOptions.BufferBodyUpTo)}: {options.BufferBodyUpTo} is outside 0 – {EdgeOptions.MaxBufferBodyUpTo} bytes")
            : options.SlowReaderTimeout < TimeSpan.Zero || options.SlowReaderTimeout > TimeSpan.FromMinutes(10)
                ? ValidateOptionsResult.Fail($"{nameof(EdgeOptions.SlowReaderTimeout)}: {options.SlowReaderTimeout} is outside 00:00:00 – 00:10:00")
                : ValidateOptionsResult.Success;
}
