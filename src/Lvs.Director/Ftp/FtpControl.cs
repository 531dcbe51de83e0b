namespace Lvs.Director.Ftp;

/// <summary>
/// The helper's state of one FTP control connection: the passive command pending (<c>app_data</c>) and the sequence
/// adjustment of the server-to-client direction, where replies are rewritten (conntrack's <c>nf_ct_seqadj</c>, which
/// the kernel's helper relies on: a rewrite at sequence number <see cref="CorrectionPosition"/> shifts what follows by
/// <see cref="OffsetAfter"/>, what came before it by <see cref="OffsetBefore"/>).
/// </summary>
internal sealed class FtpControl
{
    /// <summary>Serializes the packets of the connection that two workers might see at once.</summary>
    public Lock Gate { get; } = new();

    public FtpPassiveMode Mode { get; set; }

    public uint CorrectionPosition { get; private set; }

    public int OffsetBefore { get; private set; }

    public int OffsetAfter { get; private set; }

    /// <summary>A rewrite of the segment at <paramref name="sequence"/> changed its length by <paramref name="delta"/> (<c>nf_ct_seqadj_set</c>).</summary>
    public void Rewritten(uint sequence, int delta)
    {
        if (OffsetBefore == OffsetAfter || Before(CorrectionPosition, sequence))
        {
            CorrectionPosition = sequence;
            OffsetBefore = OffsetAfter;
            OffsetAfter += delta;
        }
    }

    /// <summary>What to add to a server segment's sequence number (<c>nf_ct_seq_adjust</c>, this direction).</summary>
    public int SequenceOffset(uint sequence) => After(sequence, CorrectionPosition) ? OffsetAfter : OffsetBefore;

    /// <summary>What to take from a client segment's acknowledgment or SACK edge (<c>nf_ct_seq_adjust</c>, <c>nf_ct_sack_adjust</c>).</summary>
    public int AcknowledgmentOffset(uint acknowledgment) =>
        After(unchecked(acknowledgment - (uint)OffsetBefore), CorrectionPosition) ? OffsetAfter : OffsetBefore;

    private static bool Before(uint a, uint b) => (int)(a - b) < 0;

    private static bool After(uint a, uint b) => (int)(b - a) < 0;
}
