namespace LbProxy.SampleOrigin;

/// <summary>
/// The three format classes an image edge negotiates, and how this origin names them: its own copy of the
/// proxy's wire contract, as an external origin would have (a test checks that the two agree).
/// </summary>
internal static class ImageFormats
{
    public const string Avif = "avif";
    public const string Webp = "webp";
    public const string Original = "original";

    /// <summary>Request header that names the format class the proxy negotiated.</summary>
    public const string FormatHeader = "X-Image-Format";

    internal static readonly (string FormatClass, string Extension, string ContentType)[] All =
    [
        (Original, "jpg", "image/jpeg"),
        (Webp, "webp", "image/webp"),
        (Avif, "avif", "image/avif"),
    ];

    internal static string? ClassOfExtension(ReadOnlySpan<char> extension)
    {
        if (extension.Equals(".jpg", StringComparison.OrdinalIgnoreCase)
            || extension.Equals(".jpeg", StringComparison.OrdinalIgnoreCase)
            || extension.Equals(".png", StringComparison.OrdinalIgnoreCase))
        {
            return Original;
        }

        if (extension.Equals(".webp", StringComparison.OrdinalIgnoreCase))
        {
            return Webp;
        }

        return extension.Equals(".avif", StringComparison.OrdinalIgnoreCase) ? Avif : null;
    }
}
