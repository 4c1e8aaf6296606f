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
