using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace LbProxy.Demo;

/// <summary>
/// The demo: when enabled, LbProxy starts one sample image origin in-process on each destination
/// address of <see cref="Cluster"/>, so that the shipped yarp.json runs with no other step. Read at start:
/// origins are not started or stopped by a reload.
/// </summary>
internal sealed class DemoOptions
{
    public const string SectionName = "LbProxy:Demo";

    public bool Enabled { get; set; }

    /// <summary>The cluster whose destinations the demo origins listen on; loopback addresses only.</summary>
    [Required]
    public string Cluster { get; set; } = "images";
}

[OptionsValidator]
internal sealed partial class DemoOptionsValidator : IValidateOptions<DemoOptions>;
