using LbProxy.SampleOrigin;

namespace LbProxy.Transforms;

/// <summary>One shared, immutable instance per format class: setting the feature allocates nothing.</summary>
internal sealed class ImageFormatFeature : IImageFormatFeature
{
    public static readonly ImageFormatFeature Avif = new(ImageFormats.Avif);
    public static readonly ImageFormatFeature Webp = new(ImageFormats.Webp);
    public static readonly ImageFormatFeature Original = new(ImageFormats.Original);

    private ImageFormatFeature(string formatClass) => FormatClass = formatClass;

    public string FormatClass { get; }
}
