using System.Net;
using Microsoft.Extensions.Options;

namespace LbProxy.Edge;

/// <summary>The trusted proxy ranges, parsed once and again when the options change, never per request.</summary>
internal sealed class TrustedProxies
{
    private IPNetwork[] _networks;

    public TrustedProxies(IOptionsMonitor<HeadersOptions> options)
    {
        _networks = Parse(options.CurrentValue.TrustedProxies, out _);
        options.OnChange(changed => _networks = Parse(changed.TrustedProxies, out _));
    }

    public bool Contains(IPAddress? address)
    {
        if (address is null)
        {
            return false;
        }

        address = ClientAddress.Unmapped(address);
        foreach (var network in _networks)
        {
            if (network.Contains(address))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Addresses (<c>10.0.0.1</c>) or ranges (<c>10.0.0.0/8</c>); the unparsable ones are returned in <paramref name="invalid"/>.</summary>
    public static IPNetwork[] Parse(IEnumerable<string> entries, out List<string> invalid)
    {
        invalid = [];
        var networks = new List<IPNetwork>();
        foreach (var entry in entries)
        {
            if (IPNetwork.TryParse(entry, out var network))
            {
                networks.Add(network);
            }
            else if (IPAddress.TryParse(entry, out var address))
            {
                networks.Add(new IPNetwork(address, address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 32 : 128));
            }
            else
            {
                invalid.Add(entry);
            }
        }

        return [.. networks];
    }
}

/// <summary>Which clients may speak for others: their forwarding headers and request ids are kept.</summary>
internal sealed class HeadersOptions
{
    public const string SectionName = "LbProxy:Headers";

    /// <summary>
    /// Addresses or CIDR ranges of trusted proxies in front of LbProxy (an outer balancer). From them,
    /// <c>X-Forwarded-*</c> chains are extended and <c>X-Request-Id</c> is kept; from anyone else both are replaced.
    /// </summary>
    public string[] TrustedProxies { get; set; } = [];
}

/// <summary>A trusted proxy entry that is neither an address nor a CIDR range is refused, not ignored.</summary>
internal sealed class HeadersOptionsValidator : IValidateOptions<HeadersOptions>
{
    public ValidateOptionsResult Validate(string? name, HeadersOptions options)
    {
        TrustedProxies.Parse(options.TrustedProxies, out var invalid);
        return invalid.Count == 0
            ? ValidateOptionsResult.Success
            : ValidateOptionsResult.Fail(invalid.Select(static entry =>
                $"{nameof(HeadersOptions.TrustedProxies)}: '{entry}' is neither an IP address nor a CIDR range"));
    }
}
