using System.Buffers;
using System.Text;
using Microsoft.Net.Http.Headers;

namespace LbProxy.Edge;

/// <summary>
/// How Kestrel turns each request header's bytes into a string (<c>KestrelServerOptions.RequestHeaderEncodingSelector</c>,
/// asked once per header as the head is parsed, before any middleware): the one place where a header's bytes are still
/// bytes. The rule, for HTTP/1.x and HTTP/2 alike:
/// <list type="bullet">
/// <item>a name with a byte that is no token character (RFC 9110 §5.6.2: a control byte, a space, <c>"(),/;&lt;=&gt;?@[\]{}</c>,
/// DEL, 0x80–0xFF) is refused;</item>
/// <item>a value with a control byte other than HTAB (0x00–0x08, 0x0A–0x1F, 0x7F) is refused: an origin that reads such a
/// byte as a line break would see a second header (<c>X: X\x04Transfer-Encoding: chunked</c>), a desync;</item>
/// <item>a <c>Content-Length</c> value with anything but digits is refused (RFC 9110 §8.6: 1*DIGIT), as nginx and HAProxy
/// do. Kestrel parses that header itself, with a custom encoding as <c>long.TryParse</c> with <see cref="System.Globalization.NumberStyles.Integer"/>,
/// which takes <c>+5</c> and <c>-0</c>, and keeps only the number: the spelling is gone before any middleware could see
/// it, and <c>+5</c> went upstream as <c>5</c>, a desync behind a front end that reads it otherwise. Kestrel decodes the
/// value with this encoding just before that parse, so this is the one place the spelling can be checked. Here a refusal
/// must not throw (Kestrel does not catch a decoder exception around that parse: the connection would drop with no
/// answer); every byte but a digit decodes as U+FFFD, as a replacement fallback would, which no integer parse takes, and
/// Kestrel answers its own 400 (invalid Content-Length). Whitespace around the value is not part of it;</item>
/// <item>every other value byte, 0x80–0xFF (obs-text) included, is decoded as Latin-1, one char per byte, and goes upstream
/// as the same byte (the forwarder encodes request headers as Latin-1): opaque data, as RFC 9110 §5.5 asks, never a 502.</item>
/// </list>
/// A refusal throws <see cref="DecoderFallbackException"/> from the decode, which Kestrel turns into its own 400
/// ("invalid request headers") before the request exists: nothing of it reaches the pipeline or an origin, and Kestrel
/// logs it at Debug only. Values Kestrel reuses from the previous request on the connection (same bytes) skip the decode;
/// they passed it then. <c>Connection</c> values are decoded by <see cref="ConnectionHeaderCapture"/>'s variant, which also
/// keeps a copy.
/// </summary>
internal static class RequestHeaderDecoding
{
    /// <summary>RFC 9110 tchar.</summary>
    private static readonly SearchValues<char> TokenChars =
        SearchValues.Create("!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz");

    /// <summary>Control bytes a value must not carry: all but HTAB, and DEL.</summary>
    private static readonly SearchValues<byte> ForbiddenValueBytes = SearchValues.Create(
        [0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x0A, 0x0B, 0x0C, 0x0D, 0x0E, 0x0F,
         0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1A, 0x1B, 0x1C, 0x1D, 0x1E, 0x1F, 0x7F]);

    private static readonly Encoding Value = new FieldValueEncoding(FieldValueRule.Plain);
    private static readonly Encoding ConnectionValue = new FieldValueEncoding(FieldValueRule.KeepConnection);
    private static readonly Encoding ContentLengthValue = new FieldValueEncoding(FieldValueRule.DigitsOnly);
    private static readonly Encoding RefusedName = new RefusingEncoding();

    /// <summary>For <c>KestrelServerOptions.RequestHeaderEncodingSelector</c>.</summary>
    public static Encoding SelectEncoding(string headerName)
    {
        // HTTP/2 pseudo-headers (:authority, :path, ...) start with a colon; Kestrel checks them itself.
        var name = headerName.StartsWith(':') ? headerName.AsSpan(1) : headerName.AsSpan();
        if (name.IsEmpty || name.ContainsAnyExcept(TokenChars))
        {
            return RefusedName;
        }

        if (ConnectionHeaderCapture.IsConnection(headerName))
        {
            return ConnectionValue;
        }

        return IsContentLength(headerName) ? ContentLengthValue : Value;
    }

    private static bool IsContentLength(string headerName) =>
        ReferenceEquals(headerName, HeaderNames.ContentLength) || headerName.Equals(HeaderNames.ContentLength, StringComparison.OrdinalIgnoreCase);

    /// <summary>What a value's bytes must be besides free of control bytes, and whether a copy is kept.</summary>
    private enum FieldValueRule
    {
        Plain,
        KeepConnection,
        DigitsOnly,
    }

    /// <summary>Latin-1, refusing the control bytes (and for a length, all but digits); Kestrel's decode reaches these pointer overloads.</summary>
    private sealed class FieldValueEncoding(FieldValueRule rule) : Encoding
    {
        public override int GetByteCount(char[] chars, int index, int count) => Latin1.GetByteCount(chars, index, count);

        public override int GetBytes(char[] chars, int charIndex, int charCount, byte[] bytes, int byteIndex) =>
            Latin1.GetBytes(chars, charIndex, charCount, bytes, byteIndex);

        public override int GetCharCount(byte[] bytes, int index, int count) => CheckedCount(bytes.AsSpan(index, count), rule);

        public override unsafe int GetCharCount(byte* bytes, int count) => CheckedCount(new ReadOnlySpan<byte>(bytes, count), rule);

        public override int GetChars(byte[] bytes, int byteIndex, int byteCount, char[] chars, int charIndex) =>
            Decode(bytes.AsSpan(byteIndex, byteCount), chars.AsSpan(charIndex));

        public override unsafe int GetChars(byte* bytes, int byteCount, char* chars, int charCount) =>
            Decode(new ReadOnlySpan<byte>(bytes, byteCount), new Span<char>(chars, charCount));

        public override int GetMaxByteCount(int charCount) => charCount;

        public override int GetMaxCharCount(int byteCount) => byteCount;

        private static int CheckedCount(ReadOnlySpan<byte> bytes, FieldValueRule rule)
        {
            if (rule == FieldValueRule.DigitsOnly)
            {
                return bytes.Length; // refused by what it decodes to, never by a throw
            }

            if (bytes.ContainsAny(ForbiddenValueBytes))
            {
                throw new DecoderFallbackException("a header value carries a control byte");
            }

            return bytes.Length;
        }

        private int Decode(ReadOnlySpan<byte> bytes, Span<char> chars)
        {
            if (rule == FieldValueRule.DigitsOnly)
            {
                return DecodeLength(bytes, chars);
            }

            CheckedCount(bytes, rule);
            var written = Latin1.GetChars(bytes, chars);
            if (rule == FieldValueRule.KeepConnection)
            {
                ConnectionHeaderCapture.Keep(chars[..written]);
            }

            return written;
        }
    }

    /// <summary>
    /// A <c>Content-Length</c> value: digits as themselves, any other byte as U+FFFD, so that Kestrel's parse refuses it.
    /// Kestrel decodes into room for 20 chars (a <see cref="long"/> has 19 digits at most); a longer value fills it and is
    /// refused as too long by the same parse.
    /// </summary>
    private static int DecodeLength(ReadOnlySpan<byte> bytes, Span<char> chars)
    {
        var count = Math.Min(bytes.Length, chars.Length);
        for (var i = 0; i < count; i++)
        {
            chars[i] = bytes[i] is >= (byte)'0' and <= (byte)'9' ? (char)bytes[i] : '\uFFFD';
        }

        return count;
    }

    /// <summary>What a header with a bad name decodes with: nothing, so that Kestrel refuses the request.</summary>
    private sealed class RefusingEncoding : Encoding
    {
        public override int GetByteCount(char[] chars, int index, int count) => throw Refused();

        public override int GetBytes(char[] chars, int charIndex, int charCount, byte[] bytes, int byteIndex) => throw Refused();

        public override int GetCharCount(byte[] bytes, int index, int count) => throw Refused();

        public override unsafe int GetCharCount(byte* bytes, int count) => throw Refused();

        public override int GetChars(byte[] bytes, int byteIndex, int byteCount, char[] chars, int charIndex) => throw Refused();

        public override unsafe int GetChars(byte* bytes, int byteCount, char* chars, int charCount) => throw Refused();

        public override int GetMaxByteCount(int charCount) => charCount;

        public override int GetMaxCharCount(int byteCount) => byteCount;

        private static DecoderFallbackException Refused() => new("a header name carries a byte that is no token character");
    }
}
