using System.ComponentModel.DataAnnotations;
using System.Net;
using LbProxy.Configuration;
using Microsoft.Extensions.Options;
using Yarp.ReverseProxy.Configuration;

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

/// <summary>The demo cluster must exist and listen on loopback: the demo never binds a public address.</summary>
internal sealed class DemoConfigCheck : IConfigCheck
{
    public void Check(ConfigCandidate candidate, List<ConfigError> errors)
    {
        var demo = candidate.Effective.GetSection(DemoOptions.SectionName).Get<DemoOptions>() ?? new DemoOptions();
        var file = candidate.File;
        if (!demo.Enabled)
        {
            return;
        }

        var cluster = candidate.Clusters.FirstOrDefault(c => string.Equals(c.ClusterId, demo.Cluster, StringComparison.OrdinalIgnoreCase));
        if (cluster is null)
        {
            errors.Add(file.ErrorAt(DemoOptions.SectionName + ":Cluster", $"demo cluster '{demo.Cluster}' is not among the clusters"));
            return;
        }

        foreach (var (id, destination) in cluster.Destinations ?? new Dictionary<string, DestinationConfig>())
        {
            if (!DemoOrigins.TryGetLoopbackUrl(destination.Address, out _))
            {
                errors.Add(file.ErrorAt($"{ConfigKeys.Destination(cluster.ClusterId, id)}:Address",
                    $"demo origin '{id}' must have an http loopback address (127.0.0.1, [::1] or localhost), not '{destination.Address}'"));
            }
        }
    }

    internal static bool IsLoopback(string host) =>
        host.Equals("localhost", StringComparison.OrdinalIgnoreCase)
        || (IPAddress.TryParse(host.Trim('[', ']'), out var address) && IPAddress.IsLoopback(address));
}
