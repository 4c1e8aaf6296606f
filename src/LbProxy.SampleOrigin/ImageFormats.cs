namespace LbProxy.SampleOrigin;

/// <summary>The three format classes an image edge negotiates, and how the origin names them.</summary>
public static class ImageFormats
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

    public static bool IsKnownClass(string? formatClass) =>
        formatClass is Avif or Webp or Original;

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
