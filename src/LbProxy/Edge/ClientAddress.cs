using System.Net;
using System.Net.Sockets;

namespace LbProxy.Edge;

/// <summary>
/// The client's address as operators know it. A dual-stack listener sees IPv4 clients as <c>::ffff:a.b.c.d</c>;
/// every check and every line that shows an address uses the plain <c>a.b.c.d</c>.
/// </summary>
internal static class ClientAddress
{
    private const string MappedIPv4Prefix = "::ffff:";

    /// <summary>The IPv4 address behind an IPv4-mapped IPv6 one; any other address as it is.</summary>
    public static IPAddress Unmapped(IPAddress address) => address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;

    public static bool IsLoopback(IPAddress? address) => address is not null && IPAddress.IsLoopback(Unmapped(address));

    /// <summary>
    /// The address for an upstream header: unmapped, and without a link-local address's <c>%scope</c>, which
    /// names an interface of this host and means nothing upstream.
    /// </summary>
    public static string ForUpstream(IPAddress? address)
    {
        if (address is null)
        {
            return "";
        }

        address = Unmapped(address);
        return address.AddressFamily == AddressFamily.InterNetworkV6 && address.ScopeId != 0
            ? new IPAddress(address.GetAddressBytes()).ToString()
            : address.ToString();
    }

    /// <summary>Formats the unmapped address into <paramref name="destination"/> without allocating.</summary>
    public static bool TryFormat(IPAddress address, Span<char> destination, out int written)
    {
        if (!address.TryFormat(destination, out written))
        {
            return false;
        }

        if (address.IsIPv4MappedToIPv6 && destination[..written].StartsWith(MappedIPv4Prefix, StringComparison.OrdinalIgnoreCase))
        {
            destination[MappedIPv4Prefix.Length..written].CopyTo(destination);
            written -= MappedIPv4Prefix.Length;
        }

        return true;
    }
}
