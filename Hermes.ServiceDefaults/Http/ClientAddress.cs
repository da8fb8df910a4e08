using System.Net;
using System.Net.Sockets;

namespace Hermes.ServiceDefaults.Http;

/// <summary>Who a request comes from, for the limits that count per client (the intake's rate limit, the admin sign-in throttle).</summary>
public static class ClientAddress
{
    /// <summary>One bucket per IPv4 address, and per /64 for IPv6 (one household or host gets a whole /64).</summary>
    public static string Partition(IPAddress? address)
    {
        if (address is null)
        {
            return "unknown";
        }

        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        if (address.AddressFamily != AddressFamily.InterNetworkV6)
        {
            return address.ToString();
        }

        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out _);
        bytes[8..].Clear();
        return new IPAddress(bytes).ToString() + "/64";
    }
}
