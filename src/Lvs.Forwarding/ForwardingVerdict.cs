using Lvs.Core;

namespace Lvs.Forwarding;

/// <summary>
/// The result of a rewrite: what to do with the frame and where it now lies in the caller's buffer (encapsulation
/// and TOA move the frame start backwards into the headroom; decapsulation moves it forwards).
/// </summary>
/// <remarks>
/// Stored as two 64-bit words (the size of the two registers a 16-byte struct is returned in), the frame's place (offset and length) and the code (action, reason, notes), so that a rewriter
/// builds its verdict in two registers and returns it in them. With five separate fields the JIT wrote the three
/// one-byte fields to the stack one by one and read them back as one word to return them, a load that store
/// forwarding cannot serve: a profile of the IPIP encapsulation put 14 % of its time on that load.
/// </remarks>
public readonly record struct ForwardingVerdict
{
    private readonly ulong _frame;
    private readonly ulong _code;

    private ForwardingVerdict(ForwardingAction action, DropReason reason, int frameOffset, int frameLength, ForwardingNotes notes)
    {
        _frame = (uint)frameOffset | (ulong)(uint)frameLength << 32;
        _code = (ulong)action | (ulong)reason << 8 | (ulong)notes << 16;
    }

    /// <summary>Transmit, drop, or send the ICMP error built in place.</summary>
    public ForwardingAction Action => (ForwardingAction)(byte)_code;

    /// <summary>Why the frame was not forwarded as is (<see cref="DropReason.None"/> for <see cref="ForwardingAction.Transmit"/>).</summary>
    public DropReason Reason => (DropReason)(byte)(_code >> 8);

    /// <summary>The offset of the frame to send in the buffer passed to the rewriter.</summary>
    public int FrameOffset => (int)(uint)_frame;

    /// <summary>The length of the frame to send.</summary>
    public int FrameLength => (int)(_frame >> 32);

    /// <summary>Facts about a forwarded frame that the caller counts (for example a bad input checksum forwarded by policy).</summary>
    public ForwardingNotes Notes => (ForwardingNotes)(byte)(_code >> 16);

    /// <summary>True when the frame (or the ICMP error that replaced it) is to be sent.</summary>
    public bool ShouldSend => Action != ForwardingAction.Drop;

    /// <summary>A transmit verdict.</summary>
    /// <param name="frameOffset">The frame's offset in the buffer.</param>
    /// <param name="frameLength">The frame's length.</param>
    /// <param name="notes">Facts to count.</param>
    /// <returns>The verdict.</returns>
    public static ForwardingVerdict Transmit(int frameOffset, int frameLength, ForwardingNotes notes = ForwardingNotes.None) =>
        new(ForwardingAction.Transmit, DropReason.None, frameOffset, frameLength, notes);

    /// <summary>A drop verdict.</summary>
    /// <param name="reason">Why.</param>
    /// <returns>The verdict.</returns>
    public static ForwardingVerdict Drop(DropReason reason) =>
        new(ForwardingAction.Drop, reason, 0, 0, ForwardingNotes.None);

    /// <summary>A verdict to send the ICMP error that replaced the frame.</summary>
    /// <param name="reason">Why the original frame was not forwarded.</param>
    /// <param name="frameOffset">The ICMP error frame's offset in the buffer.</param>
    /// <param name="frameLength">Its length.</param>
    /// <returns>The verdict.</returns>
    public static ForwardingVerdict IcmpError(DropReason reason, int frameOffset, int frameLength) =>
        new(ForwardingAction.SendIcmpError, reason, frameOffset, frameLength, ForwardingNotes.None);
}
