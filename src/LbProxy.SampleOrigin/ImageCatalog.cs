using System.Collections.Frozen;

namespace LbProxy.SampleOrigin;

/// <summary>The origin's images: a small and a large picture, each as JPEG, WebP and AVIF.</summary>
internal sealed class ImageCatalog
{
    private readonly FrozenDictionary<string, ImageVariant> _variants;

    private ImageCatalog(FrozenDictionary<string, ImageVariant> variants) => _variants = variants;

    public static ImageCatalog Shared { get; } = Load();

    /// <summary>
    /// Every path that ends in an image extension is an image: the origin is a synthetic catalogue,
    /// so that tests and benchmarks can use any number of distinct paths. A path that mentions
    /// "large" gets the large picture (about 100 KB as JPEG); any other the small one.
    /// </summary>
    public ImageVariant? Find(string path, string? formatClass)
    {
        var extension = Path.GetExtension(path.AsSpan());
        var fromExtension = ImageFormats.ClassOfExtension(extension);
        if (fromExtension is null)
        {
            return null;
        }

        // "original" means no conversion: the file as the URL names it. avif and webp ask for that variant.
        var format = formatClass is ImageFormats.Avif or ImageFormats.Webp ? formatClass : fromExtension;
        var picture = path.Contains("large", StringComparison.OrdinalIgnoreCase) ? "large" : "sample";
        return _variants[picture + "/" + format];
    }

    private static ImageCatalog Load()
    {
        var assembly = typeof(ImageCatalog).Assembly;
        var variants = new Dictionary<string, ImageVariant>(StringComparer.Ordinal);
        foreach (var picture in new[] { "sample", "large" })
        {
            foreach (var (formatClass, extension, contentType) in ImageFormats.All)
            {
                var name = $"images/{picture}.{extension}";
                using var stream = assembly.GetManifestResourceStream(name)
                    ?? throw new InvalidOperationException($"embedded image '{name}' is missing");
                using var copy = new MemoryStream();
                stream.CopyTo(copy);
                var bytes = copy.ToArray();
                var etag = $"\"{picture}-{extension}-{bytes.Length}\"";
                variants[picture + "/" + formatClass] = new ImageVariant(bytes, contentType, etag);
            }
        }

        return new ImageCatalog(variants.ToFrozenDictionary(StringComparer.Ordinal));
    }
}
