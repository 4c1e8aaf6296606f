using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace LbProxy.Control;

/// <summary>Where LbProxy answers for itself.</summary>
internal sealed class ControlOptions
{
    public const string SectionName = "LbProxy:Control";

    /// <summary>Path prefix of the control endpoints; never forwarded to a backend.</summary>
    [Required]
    [RegularExpression("^/[A-Za-z0-9_.~-]+$", ErrorMessage = "Prefix must be one path segment such as /_lb")]
    public string Prefix { get; set; } = "/_lb";
}

[OptionsValidator]
internal sealed partial class ControlOptionsValidator : IValidateOptions<ControlOptions>;
