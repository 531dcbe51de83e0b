namespace Lvs.Forwarding;

/// <summary>What the caller does with the frame after a rewriter has run.</summary>
public enum ForwardingAction : byte
{
    /// <summary>Drop the frame; <see cref="ForwardingVerdict.Reason"/> says why (count it by reason).</summary>
    Drop = 0,

    /// <summary>Transmit the rewritten frame, at <see cref="ForwardingVerdict.FrameOffset"/> in the buffer, towards the destination MAC written in it.</summary>
    Transmit,

    /// <summary>
    /// The rewriter replaced the frame by an ICMP or ICMPv6 error to send back to the packet's sender (time exceeded,
    /// fragmentation needed, packet too big), built in the same buffer; <see cref="ForwardingVerdict.Reason"/> says
    /// why the original was not forwarded. Transmit it like <see cref="Transmit"/>.
    /// </summary>
    SendIcmpError,

    /// <summary>
    /// The frame became <see cref="ForwardingVerdict.FrameCount"/> frames (IP fragments of the outer packet of a
    /// tunnel, as the kernel's ip_fragment / ip6_fragment cut a tunnel packet over the MTU), written back to back in the
    /// buffer's room after the original frame; <see cref="ForwardingVerdict.GetFrame"/> gives each one's place.
    /// Transmit each, in order, like <see cref="Transmit"/>; <see cref="ForwardingVerdict.Reason"/> is
    /// <see cref="Lvs.Core.DropReason.ExceedsMtu"/>, why the frame was not sent as one.
    /// </summary>
    TransmitFragments,
}
