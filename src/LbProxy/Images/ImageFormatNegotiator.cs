using System.Globalization;
using Microsoft.Extensions.Primitives;

namespace LbProxy.Images;

/// <summary>
/// Reduces an <c>Accept</c> header to one format class. AVIF or WebP is chosen only when the client names it
/// (<c>image/avif</c>, <c>image/webp</c>) with a q-value above 0: browsers that decode them say so, while
/// <c>image/*</c> and <c>*/*</c> promise nothing about new formats. Between the two, the higher q wins, AVIF on
/// a tie (smaller files). Anything else is <c>original</c>. Parsed in place, without allocating.
/// </summary>
internal static class ImageFormatNegotiator
{
    public static ImageFormatFeature Negotiate(StringValues accept)
    {
        double avif = 0, webp = 0;
        var ranges = new MediaRanges(accept);
        while (ranges.MoveNext())
        {
            if (ranges.Type.Equals("image/avif", StringComparison.OrdinalIgnoreCase))
            {
                avif = Math.Max(avif, ranges.Quality);
            }
            else if (ranges.Type.Equals("image/webp", StringComparison.OrdinalIgnoreCase))
            {
                webp = Math.Max(webp, ranges.Quality);
            }
        }

        if (avif <= 0 && webp <= 0)
        {
            return ImageFormatFeature.Original;
        }

        return avif >= webp ? ImageFormatFeature.Avif : ImageFormatFeature.Webp;
    }

    /// <summary>
    /// Every class the client accepts: AVIF and WebP when it names them with q above 0, the original when it sends
    /// no Accept or names any other range with q above 0 (<c>*/*</c>, <c>image/*</c>, <c>image/jpeg</c>...). What
    /// a cheaper class may be sent instead of the negotiated one (origin protection): never one not accepted.
    /// </summary>
    public static AcceptedFormats Accepted(StringValues accept)
    {
        var accepted = AcceptedFormats.None;
        var any = false;
        var ranges = new MediaRanges(accept);
        while (ranges.MoveNext())
        {
            any = true;
            if (ranges.Quality > 0)
            {
                accepted |= ranges.Type.Equals("image/avif", StringComparison.OrdinalIgnoreCase) ? AcceptedFormats.Avif
                    : ranges.Type.Equals("image/webp", StringComparison.OrdinalIgnoreCase) ? AcceptedFormats.Webp
                    : AcceptedFormats.Original;
            }
        }

        return any ? accepted : AcceptedFormats.Original;
    }

    /// <summary>
    /// The next cheaper class than <paramref name="formatClass"/> (avif → webp → original) that the client accepts,
    /// skipping WebP when only the original is accepted; null when there is none.
    /// </summary>
    public static ImageFormatFeature? CheaperAccepted(string formatClass, AcceptedFormats accepted) => formatClass switch
    {
        ImageFormats.Avif when (accepted & AcceptedFormats.Webp) != 0 => ImageFormatFeature.Webp,
        ImageFormats.Avif or ImageFormats.Webp when (accepted & AcceptedFormats.Original) != 0 => ImageFormatFeature.Original,
        _ => null,
    };

    /// <summary>The media ranges of an Accept header (all its values), in order: each type, trimmed, with its q-value.</summary>
    private ref struct MediaRanges(StringValues accept)
    {
        private int _next;
        private ReadOnlySpan<char> _rest;

        private ReadOnlySpan<char> _parameters;
        private bool _hasParameters;

        public ReadOnlySpan<char> Type { get; private set; }

        /// <summary>The range's q-value, parsed when asked for (most ranges' are never needed).</summary>
        public readonly double Quality => _hasParameters ? QualityOf(_parameters) : 1.0;

        /// <summary>Moves to the next range that names a type; false after the last.</summary>
        public bool MoveNext()
        {
            while (true)
            {
                while (_rest.IsEmpty)
                {
                    if (_next >= accept.Count)
                    {
                        return false;
                    }

                    _rest = accept[_next++].AsSpan();
                }

                var comma = _rest.IndexOf(',');
                var range = comma < 0 ? _rest : _rest[..comma];
                _rest = comma < 0 ? default : _rest[(comma + 1)..];
                var semicolon = range.IndexOf(';');
                var type = (semicolon < 0 ? range : range[..semicolon]).Trim();
                if (!type.IsEmpty)
                {
                    Type = type;
                    _hasParameters = semicolon >= 0;
                    _parameters = _hasParameters ? range[(semicolon + 1)..] : default;
                    return true;
                }
            }
        }
    }

    /// <summary>The q parameter among <c>;</c>-separated parameters; 1 when absent, 0 when malformed (refused).</summary>
    private static double QualityOf(ReadOnlySpan<char> parameters)
    {
        while (!parameters.IsEmpty)
        {
            var semicolon = parameters.IndexOf(';');
            var parameter = (semicolon < 0 ? parameters : parameters[..semicolon]).Trim();
            parameters = semicolon < 0 ? default : parameters[(semicolon + 1)..];
            if (parameter.Length >= 2 && (parameter[0] is 'q' or 'Q') && parameter[1] == '=')
            {
                return double.TryParse(parameter[2..], NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var q)
                    ? Math.Clamp(q, 0, 1)
                    : 0;
            }
        }

        return 1.0;
    }
}
