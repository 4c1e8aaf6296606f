namespace LbProxy.Images;

/// <summary>Image format negotiation.</summary>
internal sealed class ImagesOptions
{
    public const string SectionName = "LbProxy:Images";

    /// <summary>Route metadata that turns negotiation on or off for one route: <c>"Images.Negotiate": "false"</c>.</summary>
    public const string RouteMetadataKey = "Images.Negotiate";

    /// <summary>
    /// Whether routes negotiate when their metadata does not say: an image edge's routes are image routes, so
    /// yes; set false to negotiate only on routes marked <c>"Images.Negotiate": "true"</c>.
    /// </summary>
    public bool NegotiateByDefault { get; set; } = true;
}
