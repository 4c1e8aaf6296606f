namespace LbProxy.Transforms;

/// <summary>The format class negotiated for this request (<c>avif</c>, <c>webp</c> or <c>original</c>), when its route negotiates.</summary>
internal interface IImageFormatFeature
{
    string FormatClass { get; }
}
