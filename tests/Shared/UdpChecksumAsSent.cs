using PacketDotNet;

namespace Lvs.TestSupport;

/// <summary>
/// PacketDotNet's <see cref="UdpPacket.UpdateUdpChecksum"/> writes the folded sum as it is, 0x0000 included. On the
/// wire a computed UDP checksum of zero is sent as 0xFFFF (RFC 768; for IPv6, where 0 is not allowed at all, RFC 8200
/// section 8.1), which is what the kernel and Lvs's rewriters write. Test frames that serve as the expected output use
/// this instead, so that one frame in 65,536 does not carry a checksum no sender would. Compiled into the Core,
/// Forwarding and Director test projects (tests/Shared).
/// </summary>
internal static class UdpChecksumAsSent
{
    /// <summary>Computes the UDP checksum over the pseudo-header and the datagram and writes it as a sender would.</summary>
    /// <param name="udp">The datagram, inside its IP packet.</param>
    public static void UpdateUdpChecksumAsSent(this UdpPacket udp)
    {
        udp.UpdateUdpChecksum();
        if (udp.Checksum == 0)
        {
            udp.Checksum = 0xFFFF;
        }
    }
}
