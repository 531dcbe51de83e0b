using System.Runtime.Intrinsics;
using Lvs.Core;

namespace Lvs.Director;

/// <summary>What the host does with a frame after the engine processed it.</summary>
public enum FrameAction : byte
{
    /// <summary>Drop the frame; <see cref="FrameVerdict.Reason"/> says why (counted by the engine).</summary>
    Drop = 0,

    /// <summary>
    /// Send the bytes at <see cref="FrameVerdict.Offset"/>/<see cref="FrameVerdict.Length"/> of the buffer on link
    /// <see cref="FrameVerdict.Link"/>: a forwarded packet, or an answer the engine wrote in the frame's place (ARP
    /// reply, ICMP echo reply, neighbour advertisement, ICMP error). The link header is complete.
    /// </summary>
    Transmit,

    /// <summary>Not the director's: hand the frame, unchanged, to the host's own stack (or ignore it where the host already has it, as with AF_PACKET).</summary>
    Deliver,

    /// <summary>
    /// The frame is the director's but the MAC address of <see cref="FrameVerdict.NextHop"/> on link
    /// <see cref="FrameVerdict.Link"/> is unknown: resolve it (ARP or neighbour solicitation), then submit the frame
    /// again, or drop it. The frame is unchanged; its connection, if new, is already in the table.
    /// </summary>
    ResolveNeighbor,

    /// <summary>The engine used the frame (an ARP reply or neighbour advertisement it learned from); nothing to send.</summary>
    Consumed,
}

/// <summary>The engine's decision about one frame.</summary>
public readonly record struct FrameVerdict
{
    // One 32-byte vector: action (bits 0-7), reason (8-15), link (16-31, signed), frame count (32-47), stride (48-63);
    // offset (64-95), length (96-127); the next hop (128-255). Built in a register and stored with one 32-byte write: as
    // separate fields it was written field by field into a stack temporary and copied out with a 32-byte load, which
    // the store buffer cannot forward from several smaller writes, a stall on every frame (perf: about a tenth of the
    // engine's time per frame).
    private readonly Vector256<ulong> _data;

    private FrameVerdict(FrameAction action, DropReason reason, int link, int offset, int length, InetAddress nextHop, int count = 1, int stride = 0)
    {
        int frames = action == FrameAction.Transmit ? count : 0;
        ulong head = (byte)action | ((ulong)(byte)reason << 8) | ((ulong)(ushort)(short)link << 16) | ((ulong)(ushort)frames << 32) | ((ulong)(ushort)stride << 48);
        ulong span = (uint)offset | ((ulong)(uint)length << 32);
        _data = Vector256.Create(head, span, nextHop.High, nextHop.Low);
    }

    /// <summary>What to do.</summary>
    public FrameAction Action => (FrameAction)(byte)_data.GetElement(0);

    /// <summary>Why the frame is dropped (<see cref="FrameAction.Drop"/>), or why an answer replaced it (an ICMP error's cause).</summary>
    public DropReason Reason => (DropReason)(byte)(_data.GetElement(0) >> 8);

    /// <summary>The link to send on or to resolve on.</summary>
    public int Link => (short)(ushort)(_data.GetElement(0) >> 16);

    /// <summary>Where the frame to send starts in the buffer (it may have moved into the headroom, for a tunnel or an ICMP error).</summary>
    public int Offset => (int)(uint)_data.GetElement(1);

    /// <summary>The length of the frame to send.</summary>
    public int Length => (int)(uint)(_data.GetElement(1) >> 32);

    /// <summary>
    /// The number of frames to send: 1, or the number of fragments when a tunnelled packet was fragmented (they lie back
    /// to back from <see cref="Offset"/>; <see cref="GetFrame"/> gives each). 0 when nothing is sent.
    /// </summary>
    public int FrameCount => (ushort)(_data.GetElement(0) >> 32);

    /// <summary>The length of every fragment but the last.</summary>
    private int Stride => (ushort)(_data.GetElement(0) >> 48);

    /// <summary>Where frame <paramref name="index"/> of <see cref="FrameCount"/> lies in the buffer.</summary>
    /// <param name="index">From 0 to <see cref="FrameCount"/> - 1.</param>
    /// <returns>The frame's offset and length.</returns>
    /// <exception cref="ArgumentOutOfRangeException">The index is outside 0 to <see cref="FrameCount"/> - 1.</exception>
    public (int Offset, int Length) GetFrame(int index)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)index, (uint)FrameCount, nameof(index));
        if (FrameCount == 1)
        {
            return (Offset, Length);
        }

        int start = index * Stride;
        return (Offset + start, index == FrameCount - 1 ? Length - start : Stride);
    }

    /// <summary>The neighbour to resolve (<see cref="FrameAction.ResolveNeighbor"/>).</summary>
    public InetAddress NextHop => new(_data.GetElement(2), _data.GetElement(3));

    /// <summary>A drop.</summary>
    /// <param name="reason">Why.</param>
    /// <returns>The verdict.</returns>
    public static FrameVerdict Drop(DropReason reason) => new(FrameAction.Drop, reason, -1, 0, 0, default);

    /// <summary>A frame to send.</summary>
    /// <param name="link">The link.</param>
    /// <param name="offset">The frame's offset in the buffer.</param>
    /// <param name="length">The frame's length.</param>
    /// <param name="cause">Why the engine answered instead of forwarding, for an ICMP error; None otherwise.</param>
    /// <returns>The verdict.</returns>
    public static FrameVerdict Transmit(int link, int offset, int length, DropReason cause = DropReason.None) =>
        new(FrameAction.Transmit, cause, link, offset, length, default);

    /// <summary>Several frames to send back to back: the fragments of a tunnelled packet.</summary>
    /// <param name="link">The link.</param>
    /// <param name="offset">The first fragment's offset.</param>
    /// <param name="length">The length of all the fragments together.</param>
    /// <param name="count">The number of fragments.</param>
    /// <param name="stride">The length of every fragment but the last.</param>
    /// <returns>The verdict.</returns>
    public static FrameVerdict TransmitFragments(int link, int offset, int length, int count, int stride) =>
        new(FrameAction.Transmit, DropReason.ExceedsMtu, link, offset, length, default, count, stride);

    /// <summary>A frame for the host's own stack.</summary>
    /// <returns>The verdict.</returns>
    public static FrameVerdict Deliver() => new(FrameAction.Deliver, DropReason.None, -1, 0, 0, default);

    /// <summary>A frame the engine used up.</summary>
    /// <returns>The verdict.</returns>
    public static FrameVerdict Consumed() => new(FrameAction.Consumed, DropReason.None, -1, 0, 0, default);

    /// <summary>A frame waiting for a neighbour's MAC address.</summary>
    /// <param name="link">The link.</param>
    /// <param name="nextHop">The neighbour.</param>
    /// <returns>The verdict.</returns>
    public static FrameVerdict Resolve(int link, InetAddress nextHop) => new(FrameAction.ResolveNeighbor, DropReason.None, link, 0, 0, nextHop);

    /// <inheritdoc />
    public override string ToString() => Action switch
    {
        FrameAction.Drop => $"Drop ({Reason})",
        FrameAction.Transmit => $"Transmit on link {Link} [{Offset}, {Length}]{(Reason == DropReason.None ? string.Empty : $" ({Reason})")}",
        FrameAction.ResolveNeighbor => $"Resolve {NextHop} on link {Link}",
        _ => Action.ToString(),
    };
}
