namespace LbProxy.SampleOrigin;

/// <summary>One encoded picture as the origin sends it.</summary>
public sealed record ImageVariant(byte[] Bytes, string ContentType, string ETag);
