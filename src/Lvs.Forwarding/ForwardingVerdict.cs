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

    // TransmitFragments only: the fragment count in bits 24-39 of the code and the stride (the length of every
    // fragment frame but the last) in bits 40-63.
    private ForwardingVerdict(int frameOffset, int frameLength, int count, int stride)
        : this(ForwardingAction.TransmitFragments, DropReason.ExceedsMtu, frameOffset, frameLength, ForwardingNotes.None)
    {
        _code |= (ulong)(ushort)count << 24 | (ulong)(uint)stride << 40;
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

    /// <summary>True when the frame (or the ICMP error that replaced it, or its fragments) is to be sent.</summary>
    public bool ShouldSend => Action != ForwardingAction.Drop;

    /// <summary>
    /// The number of frames to send: 0 for <see cref="ForwardingAction.Drop"/>, the fragment count for
    /// <see cref="ForwardingAction.TransmitFragments"/>, 1 otherwise. With <see cref="GetFrame"/>, a caller sends
    /// every verdict in one loop.
    /// </summary>
    public int FrameCount => Action switch
    {
        ForwardingAction.Drop => 0,
        ForwardingAction.TransmitFragments => (ushort)(_code >> 24),
        _ => 1,
    };

    /// <summary>The place in the buffer of frame <paramref name="index"/> of the <see cref="FrameCount"/> frames to send.</summary>
    /// <param name="index">From 0 to <see cref="FrameCount"/> - 1.</param>
    /// <returns>
    /// The frame's offset and length: <see cref="FrameOffset"/> and <see cref="FrameLength"/> for a single frame; for
    /// fragments, which lie back to back from <see cref="FrameOffset"/> over <see cref="FrameLength"/> bytes, every
    /// one but the last has the same length.
    /// </returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is not below <see cref="FrameCount"/>.</exception>
    public (int Offset, int Length) GetFrame(int index)
    {
        int count = FrameCount;
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)index, (uint)count, nameof(index));
        if (Action != ForwardingAction.TransmitFragments)
        {
            return (FrameOffset, FrameLength);
        }

        int stride = (int)(_code >> 40);
        int offset = index * stride;
        return (FrameOffset + offset, index == count - 1 ? FrameLength - offset : stride);
    }

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

    /// <summary>A drop verdict with notes (<see cref="ForwardingNotes.IcmpErrorRateLimited"/>).</summary>
    /// <param name="reason">Why.</param>
    /// <param name="notes">Facts to count.</param>
    /// <returns>The verdict.</returns>
    public static ForwardingVerdict Drop(DropReason reason, ForwardingNotes notes) =>
        new(ForwardingAction.Drop, reason, 0, 0, notes);

    /// <summary>A verdict to send the ICMP error that replaced the frame.</summary>
    /// <param name="reason">Why the original frame was not forwarded.</param>
    /// <param name="frameOffset">The ICMP error frame's offset in the buffer.</param>
    /// <param name="frameLength">Its length.</param>
    /// <returns>The verdict.</returns>
    public static ForwardingVerdict IcmpError(DropReason reason, int frameOffset, int frameLength) =>
        new(ForwardingAction.SendIcmpError, reason, frameOffset, frameLength, ForwardingNotes.None);

    /// <summary>A verdict to send the fragments a frame became, lying back to back in the buffer.</summary>
    /// <param name="frameOffset">The first fragment frame's offset in the buffer.</param>
    /// <param name="frameLength">The length of all the fragment frames together.</param>
    /// <param name="count">The number of fragments, 2 to 65535.</param>
    /// <param name="stride">The length of each fragment frame but the last (which has the rest).</param>
    /// <returns>The verdict.</returns>
    /// <exception cref="ArgumentOutOfRangeException">A count outside 2-65535, or a stride that does not fit the count and length.</exception>
    public static ForwardingVerdict TransmitFragments(int frameOffset, int frameLength, int count, int stride)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 2);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(count, ushort.MaxValue);
        if (stride <= 0 || stride > 0xFF_FFFF || (long)stride * (count - 1) >= frameLength)
        {
            throw new ArgumentOutOfRangeException(nameof(stride), stride, "Every fragment but the last has this length, and the last at least one byte.");
        }

        return new ForwardingVerdict(frameOffset, frameLength, count, stride);
    }
}
