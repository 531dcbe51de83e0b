using System.Runtime.InteropServices;

namespace Lvs.Devices.Native;

/// <summary>struct tpacket_req3: the size of a TPACKET_V3 ring (PACKET_RX_RING, PACKET_TX_RING).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct PacketRingRequest
{
    internal uint BlockSize;
    internal uint BlockCount;
    internal uint FrameSize;
    internal uint FrameCount;
    internal uint RetireBlockTimeoutMilliseconds;
    internal uint PrivateSize;
    internal uint FeatureRequestWord;
}
