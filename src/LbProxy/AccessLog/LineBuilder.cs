using System.Buffers;

namespace LbProxy.AccessLog;

/// <summary>
/// Builds one access-log line in a stack buffer, growing into a pooled array for long lines; the finished line
/// is encoded into a pooled UTF-8 array (<see cref="ToLine"/>), so that a line allocates nothing in the steady state.
/// </summary>
internal ref struct LineBuilder
{
    private static readonly SearchValues<char> ControlCharacters = SearchValues.Create(
        "\0\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f\x7f");

    private char[]? _rented;
    private Span<char> _chars;
    private int _length;

    public LineBuilder(Span<char> initial)
    {
        _chars = initial;
        _rented = null;
        _length = 0;
    }

    public void Append(char c)
    {
        if (_length == _chars.Length)
        {
            Grow(1);
        }

        _chars[_length++] = c;
    }

    public void Append(ReadOnlySpan<char> text)
    {
        if (_length + text.Length > _chars.Length)
        {
            Grow(text.Length);
        }

        text.CopyTo(_chars[_length..]);
        _length += text.Length;
    }

    /// <summary>
    /// A value from the request (header, path): control characters are written as <c>\xHH</c>, so that a
    /// line stays one line whatever the client sent.
    /// </summary>
    public void AppendEscaped(ReadOnlySpan<char> text)
    {
        while (!text.IsEmpty)
        {
            var at = text.IndexOfAny(ControlCharacters);
            if (at < 0)
            {
                Append(text);
                return;
            }

            Append(text[..at]);
            Append('\\');
            Append('x');
            Append(HexDigit(text[at] >> 4));
            Append(HexDigit(text[at] & 0xF));
            text = text[(at + 1)..];
        }
    }

    public void Append<T>(T value, ReadOnlySpan<char> format = default)
        where T : ISpanFormattable
    {
        int written;
        while (!value.TryFormat(_chars[_length..], out written, format, System.Globalization.CultureInfo.InvariantCulture))
        {
            Grow(Math.Max(32, _chars.Length));
        }

        _length += written;
    }

    /// <summary>Room for <paramref name="count"/> more characters, written by the caller, then <see cref="Advance"/>.</summary>
    public Span<char> Reserve(int count)
    {
        if (_length + count > _chars.Length)
        {
            Grow(count);
        }

        return _chars.Slice(_length, count);
    }

    public void Advance(int count) => _length += count;

    public override readonly string ToString() => new(_chars[.._length]);

    public readonly AccessLogLine ToLine() => AccessLogLine.Encode(_chars[.._length]);

    public void Dispose()
    {
        if (_rented is { } rented)
        {
            _rented = null;
            ArrayPool<char>.Shared.Return(rented);
        }
    }

    private static char HexDigit(int value) => (char)(value < 10 ? '0' + value : 'a' + value - 10);

    private void Grow(int needed)
    {
        var next = ArrayPool<char>.Shared.Rent(Math.Max(_chars.Length * 2, _length + needed));
        _chars[.._length].CopyTo(next);
        if (_rented is { } old)
        {
            ArrayPool<char>.Shared.Return(old);
        }

        _rented = next;
        _chars = next;
    }
}
