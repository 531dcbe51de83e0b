using Lvs.Core;

namespace Lvs.Director;

/// <summary>What the replies the director sends as a host (echo replies, the TCP reset) share: the frame goes back the way it came.</summary>
internal static class HostReply
{
    /// <summary>Addresses a received frame's Ethernet header back to its sender: the sender's MAC becomes the destination, the link's the source.</summary>
    /// <param name="frame">The frame, from its Ethernet header.</param>
    /// <param name="linkMac">The MAC address of the link the frame came in on.</param>
    public static void TurnAround(Span<byte> frame, MacAddress linkMac)
    {
        var sender = MacAddress.Read(frame[6..]);
        sender.WriteTo(frame);
        linkMac.WriteTo(frame[6..]);
    }
}
