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
        foreach (var value in accept)
        {
            var rest = value.AsSpan();
            while (!rest.IsEmpty)
            {
                var comma = rest.IndexOf(',');
                var range = comma < 0 ? rest : rest[..comma];
                rest = comma < 0 ? default : rest[(comma + 1)..];
                Consider(range, ref avif, ref webp);
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
        foreach (var value in accept)
        {
            var rest = value.AsSpan();
            while (!rest.IsEmpty)
            {
                var comma = rest.IndexOf(',');
                var range = comma < 0 ? rest : rest[..comma];
                rest = comma < 0 ? default : rest[(comma + 1)..];
                var semicolon = range.IndexOf(';');
                var type = (semicolon < 0 ? range : range[..semicolon]).Trim();
                if (type.IsEmpty)
                {
                    continue;
                }

                any = true;
                if ((semicolon < 0 ? 1.0 : QualityOf(range[(semicolon + 1)..])) <= 0)
                {
                    continue;
                }

                accepted |= type.Equals("image/avif", StringComparison.OrdinalIgnoreCase) ? AcceptedFormats.Avif
                    : type.Equals("image/webp", StringComparison.OrdinalIgnoreCase) ? AcceptedFormats.Webp
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

    private static void Consider(ReadOnlySpan<char> range, ref double avif, ref double webp)
    {
        var semicolon = range.IndexOf(';');
        var type = (semicolon < 0 ? range : range[..semicolon]).Trim();
        var isAvif = type.Equals("image/avif", StringComparison.OrdinalIgnoreCase);
        if (!isAvif && !type.Equals("image/webp", StringComparison.OrdinalIgnoreCase))
        {
            return;
        }

        var q = semicolon < 0 ? 1.0 : QualityOf(range[(semicolon + 1)..]);
        if (isAvif)
        {
            avif = Math.Max(avif, q);
        }
        else
        {
            webp = Math.Max(webp, q);
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
