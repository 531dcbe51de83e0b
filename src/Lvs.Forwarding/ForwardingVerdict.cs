using System.Runtime.InteropServices;

namespace Lvs.Forwarding;

/// <summary>
/// The result of a rewrite: what to do with the frame and where it now lies in the caller's buffer (encapsulation
/// and TOA move the frame start backwards into the headroom; decapsulation moves it forwards).
/// </summary>
[StructLayout(LayoutKind.Auto)]
public readonly record struct ForwardingVerdict
{
    private ForwardingVerdict(ForwardingAction action, ForwardingDropReason reason, int frameOffset, int frameLength, ForwardingNotes notes)
    {
        Action = action;
        Reason = reason;
        FrameOffset = frameOffset;
        FrameLength = frameLength;
        Notes = notes;
    }

    /// <summary>Transmit, drop, or send the ICMP error built in place.</summary>
    public ForwardingAction Action { get; }

    /// <summary>Why the frame was not forwarded as is (<see cref="ForwardingDropReason.None"/> for <see cref="ForwardingAction.Transmit"/>).</summary>
    public ForwardingDropReason Reason { get; }

    /// <summary>The offset of the frame to send in the buffer passed to the rewriter.</summary>
    public int FrameOffset { get; }

    /// <summary>The length of the frame to send.</summary>
    public int FrameLength { get; }

    /// <summary>Facts about a forwarded frame that the caller counts (for example a bad input checksum forwarded by policy).</summary>
    public ForwardingNotes Notes { get; }

    /// <summary>True when the frame (or the ICMP error that replaced it) is to be sent.</summary>
    public bool ShouldSend => Action != ForwardingAction.Drop;

    /// <summary>A transmit verdict.</summary>
    /// <param name="frameOffset">The frame's offset in the buffer.</param>
    /// <param name="frameLength">The frame's length.</param>
    /// <param name="notes">Facts to count.</param>
    /// <returns>The verdict.</returns>
    public static ForwardingVerdict Transmit(int frameOffset, int frameLength, ForwardingNotes notes = ForwardingNotes.None) =>
        new(ForwardingAction.Transmit, ForwardingDropReason.None, frameOffset, frameLength, notes);

    /// <summary>A drop verdict.</summary>
    /// <param name="reason">Why.</param>
    /// <returns>The verdict.</returns>
    public static ForwardingVerdict Drop(ForwardingDropReason reason) =>
        new(ForwardingAction.Drop, reason, 0, 0, ForwardingNotes.None);

    /// <summary>A verdict to send the ICMP error that replaced the frame.</summary>
    /// <param name="reason">Why the original frame was not forwarded.</param>
    /// <param name="frameOffset">The ICMP error frame's offset in the buffer.</param>
    /// <param name="frameLength">Its length.</param>
    /// <returns>The verdict.</returns>
    public static ForwardingVerdict IcmpError(ForwardingDropReason reason, int frameOffset, int frameLength) =>
        new(ForwardingAction.SendIcmpError, reason, frameOffset, frameLength, ForwardingNotes.None);
}
