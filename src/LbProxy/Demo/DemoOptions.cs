namespace LbProxy.Demo;

/// <summary>
/// The demo: when enabled, LbProxy starts one sample image origin in-process on each destination
/// address of <see cref="Cluster"/>, so that the shipped yarp.json runs with no other step.
/// </summary>
internal sealed class DemoOptions
{
    public const string SectionName = "LbProxy:Demo";

    public bool Enabled { get; set; }

    /// <summary>The cluster whose destinations the demo origins listen on; loopback addresses only.</summary>
    public string Cluster { get; set; } = "images";
}
