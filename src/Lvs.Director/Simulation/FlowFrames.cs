using System.Buffers.Binary;
using Lvs.Core;
using Lvs.Core.Headers;

namespace Lvs.Director.Simulation;

/// <summary>
/// Writes a flow's first packet as a frame: Ethernet, IPv4 or IPv6, and a TCP SYN, a UDP datagram or an SCTP INIT,
/// checksums complete.
/// </summary>
internal static class FlowFrames
{
    /// <summary>The largest frame written (IPv6, SCTP with an INIT chunk without parameters).</summary>
    public const int MaxLength = 14 + 40 + SctpInitLength;

    private const int UdpPayload = 8;

    /// <summary>The SCTP common header and an INIT chunk without optional parameters (RFC 9260 section 3.3.2).</summary>
    private const int SctpInitLength = SctpHeader.Length + 20;

    /// <summary>Writes the frame and returns its length.</summary>
    public static int Write(Span<byte> frame, SimulatedFlow flow, MacAddress source, MacAddress destination, uint sequence)
    {
        bool ipv4 = flow.Client.Address.IsIPv4;
        int ipLength = ipv4 ? 20 : 40;
        int l4Length = flow.Protocol switch
        {
            L4Protocol.Tcp => 20,
            L4Protocol.Sctp => SctpInitLength,
            _ => 8 + UdpPayload,
        };
        int length = 14 + ipLength + l4Length;
        frame = frame[..length];
        frame.Clear();
        destination.WriteTo(frame);
        source.WriteTo(frame[6..]);
        BinaryPrimitives.WriteUInt16BigEndian(frame[12..], ipv4 ? (ushort)0x0800 : (ushort)0x86DD);
        var ip = frame[14..];
        if (ipv4)
        {
            Ipv4Header.Write(ip, flow.Client.Address, flow.Destination.Address, flow.Protocol, l4Length, 64, identification: (ushort)sequence);
        }
        else
        {
            Ipv6Header.Write(ip, flow.Client.Address, flow.Destination.Address, flow.Protocol, l4Length, 64);
        }

        var l4 = ip.Slice(ipLength, l4Length);
        BinaryPrimitives.WriteUInt16BigEndian(l4, flow.Client.Port);
        BinaryPrimitives.WriteUInt16BigEndian(l4[2..], flow.Destination.Port);
        uint pseudo = Checksum.PseudoHeaderSum(flow.Client.Address, flow.Destination.Address, flow.Protocol, l4Length);
        if (flow.Protocol == L4Protocol.Tcp)
        {
            BinaryPrimitives.WriteUInt32BigEndian(l4[4..], sequence);
            l4[12] = 5 << 4;
            l4[13] = 0x02; // SYN
            BinaryPrimitives.WriteUInt16BigEndian(l4[14..], 64240);
            BinaryPrimitives.WriteUInt16BigEndian(l4[16..], Checksum.Compute(l4, pseudo));
        }
        else if (flow.Protocol == L4Protocol.Sctp)
        {
            // Verification tag 0 (an INIT's), then the INIT: initiate tag, a_rwnd, outbound and inbound streams (Linux's
            // defaults, 10 and 65535) and the initial TSN; the CRC32c over the whole packet.
            var init = l4[SctpHeader.Length..];
            init[0] = SctpHeader.ChunkInit;
            BinaryPrimitives.WriteUInt16BigEndian(init[2..], 20);
            BinaryPrimitives.WriteUInt32BigEndian(init[4..], sequence | 1);
            BinaryPrimitives.WriteUInt32BigEndian(init[8..], 106496);
            BinaryPrimitives.WriteUInt16BigEndian(init[12..], 10);
            BinaryPrimitives.WriteUInt16BigEndian(init[14..], 65535);
            BinaryPrimitives.WriteUInt32BigEndian(init[16..], sequence);
            SctpChecksum.Write(l4);
        }
        else
        {
            BinaryPrimitives.WriteUInt16BigEndian(l4[4..], (ushort)l4Length);
            for (int i = 0; i < UdpPayload; i++)
            {
                l4[8 + i] = (byte)('a' + i);
            }

            BinaryPrimitives.WriteUInt16BigEndian(l4[6..], Checksum.UdpResult(Checksum.Compute(l4, pseudo)));
        }

        return length;
    }
}
