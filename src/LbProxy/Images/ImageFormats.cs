namespace LbProxy.Images;

/// <summary>
/// The wire contract between LbProxy and its image origins: the header that names the negotiated format
/// class, and the three classes. Origins key their variants on it; the sample origin keeps its own copy.
/// </summary>
internal static class ImageFormats
{
    /// <summary>Request header, set by the proxy only, that names the negotiated format class.</summary>
    public const string FormatHeader = "X-Image-Format";

    public const string Avif = "avif";
    public const string Webp = "webp";
    public const string Original = "original";
}

/// <summary>The format class negotiated for this request, when its route negotiates.</summary>
internal interface IImageFormatFeature
{
    string FormatClass { get; }
}


/// <summary>The format classes a client's Accept allows.</summary>
[Flags]
internal enum AcceptedFormats
{
    None = 0,
    Original = 1,
    Webp = 2,
    Avif = 4,
}

/// <summary>One shared, immutable instance per format class: setting the feature allocates nothing.</summary>
internal sealed class ImageFormatFeature : IImageFormatFeature
{
    public static readonly ImageFormatFeature Avif = new(ImageFormats.Avif);
    public static readonly ImageFormatFeature Webp = new(ImageFormats.Webp);
    public static readonly ImageFormatFeature Original = new(ImageFormats.Original);

    private ImageFormatFeature(string formatClass) => FormatClass = formatClass;

    public string FormatClass { get; }
}
