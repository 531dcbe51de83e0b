using System.Buffers.Binary;
using System.Runtime.InteropServices;
using FsCheck;
using FsCheck.Fluent;
using Lvs.Core;

namespace Lvs.Forwarding.Tests;

public class OnesComplementTests
{
    /// <summary>Random 20-byte IPv4 headers (version 4, IHL 5) with a TTL of at least 1 and a correct checksum by <see cref="ReferenceChecksum"/>.</summary>
    private static Gen<byte[]> Ipv4Headers() =>
        Gen.ArrayOf(ArbMap.Default.GeneratorFor<byte>(), 20).Zip(Gen.Choose(1, 255)).Select(t =>
        {
            byte[] header = t.Item1;
            header[0] = 0x45;
            header[8] = (byte)t.Item2;
            header[10] = 0;
            header[11] = 0;
            BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(10), ReferenceChecksum.Compute(header));
            return header;
        });

    [Fact]
    public void TtlDecrementDelta_IsTheComplementOf0x0100()
    {
        ushort delta = OnesComplement.TtlDecrementDelta;
        Assert.Equal(0xFFFF ^ 0x0100, delta);
        Assert.Equal(BitConverter.IsLittleEndian ? BinaryPrimitives.ReverseEndianness(delta) : delta, OnesComplement.TtlDecrementDeltaRaw);
    }

    /// <summary>Applying the constant TTL delta gives the checksum a full recomputation gives, for any header and TTL of at least 1.</summary>
    [FsCheck.Xunit.Property(MaxTest = 1000)]
    public Property TtlDecrementDelta_EqualsFullRecomputation()
    {
        return Prop.ForAll(Arb.From(Ipv4Headers()), header =>
        {
            ushort updated = OnesComplement.Apply(BinaryPrimitives.ReadUInt16BigEndian(header.AsSpan(10)), OnesComplement.TtlDecrementDelta);
            header[8]--;
            header[10] = 0;
            header[11] = 0;
            Assert.Equal(ReferenceChecksum.Compute(header), updated);
        });
    }

    /// <summary>The in-place form (memory-order load, raw delta, memory-order store) leaves a header whose checksum is the recomputed one.</summary>
    [FsCheck.Xunit.Property(MaxTest = 1000)]
    public Property DecrementHopLimit_InPlace_EqualsFullRecomputation()
    {
        return Prop.ForAll(Arb.From(Ipv4Headers()), header =>
        {
            byte ttl = header[8];
            AddressTranslation.DecrementHopLimit(ref MemoryMarshal.GetArrayDataReference(header), ipv4: true);
            ushort updated = BinaryPrimitives.ReadUInt16BigEndian(header.AsSpan(10));
            Assert.Equal(ttl - 1, header[8]);
            header[10] = 0;
            header[11] = 0;
            Assert.Equal(ReferenceChecksum.Compute(header), updated);
        });
    }

    /// <summary>The fold-free TTL update equals equation 3 with the constant delta, for every checksum value.</summary>
    [Fact]
    public void AfterTtlDecrement_EqualsApplyOfTheDelta_ForEveryChecksum()
    {
        for (int checksum = 0; checksum <= 0xFFFF; checksum++)
        {
            Assert.Equal(OnesComplement.Apply((ushort)checksum, OnesComplement.TtlDecrementDeltaRaw), OnesComplement.AfterTtlDecrement((ushort)checksum));
        }
    }

    /// <summary>The TTL delta and address changes summed in one accumulator give the recomputed checksum (the NAT header update).</summary>
    [FsCheck.Xunit.Property(MaxTest = 1000)]
    public Property TtlAndAddressDeltas_InOneUpdate_EqualFullRecomputation(uint newSource, uint newDestination)
    {
        return Prop.ForAll(Arb.From(Ipv4Headers()), header =>
        {
            Span<byte> h = header;
            ulong delta = OnesComplement.Delta(BinaryPrimitives.ReadUInt32BigEndian(h[12..]), newSource)
                + OnesComplement.Delta(BinaryPrimitives.ReadUInt32BigEndian(h[16..]), newDestination)
                + OnesComplement.TtlDecrementDelta;
            ushort updated = OnesComplement.Apply(BinaryPrimitives.ReadUInt16BigEndian(h[10..]), delta);
            BinaryPrimitives.WriteUInt32BigEndian(h[12..], newSource);
            BinaryPrimitives.WriteUInt32BigEndian(h[16..], newDestination);
            h[8]--;
            h[10] = 0;
            h[11] = 0;
            Assert.Equal(ReferenceChecksum.Compute(header), updated);
        });
    }

    /// <summary>The rotate-add fold is the end-around-carry sum: the value modulo 0xFFFF, represented as 0xFFFF rather than 0 unless the sum is 0.</summary>
    [FsCheck.Xunit.Property(MaxTest = 2000)]
    public void Fold_EqualsSumModulo0xFFFF(ulong sum)
    {
        ulong residue = sum % 0xFFFF;
        ushort expected = sum == 0 ? (ushort)0 : residue == 0 ? (ushort)0xFFFF : (ushort)residue;
        Assert.Equal(expected, Checksum.Fold(sum));
        Assert.Equal(StepwiseFold(sum), Checksum.Fold(sum));
    }

    // The fold as RFC 1071 writes it, one end-around carry at a time: the oracle for the rotate-add form.
    private static ushort StepwiseFold(ulong sum)
    {
        sum = (sum & 0xFFFF_FFFF) + (sum >> 32);
        sum = (sum & 0xFFFF) + (sum >> 16);
        sum = (sum & 0xFFFF) + (sum >> 16);
        sum = (sum & 0xFFFF) + (sum >> 16);
        return (ushort)sum;
    }

    [Theory]
    [InlineData(0UL, 0)]
    [InlineData(0xFFFFUL, 0xFFFF)]
    [InlineData(0x1_0000UL, 1)]
    [InlineData(0xFFFF_FFFFUL, 0xFFFF)]
    [InlineData(0x1_0000_0000UL, 1)]
    [InlineData(ulong.MaxValue, 0xFFFF)]
    public void Fold_KnownValues(ulong sum, int expected) => Assert.Equal((ushort)expected, Checksum.Fold(sum));

    /// <summary>Summing words in memory order and applying to the checksum in memory order gives the byte-swapped network-order result (RFC 1071 2(B)).</summary>
    [FsCheck.Xunit.Property(MaxTest = 1000)]
    public void Apply_InMemoryOrder_IsTheSwappedNetworkOrderResult(ushort checksum, uint oldValue, uint newValue, ulong oldWide, ulong newWide, ushort oldPort, ushort newPort)
    {
        ushort network = OnesComplement.Apply(
            checksum, OnesComplement.Delta(oldValue, newValue) + OnesComplement.Delta(oldWide, newWide) + OnesComplement.Delta(oldPort, newPort));
        ushort swapped = OnesComplement.Apply(
            BinaryPrimitives.ReverseEndianness(checksum),
            OnesComplement.Delta(BinaryPrimitives.ReverseEndianness(oldValue), BinaryPrimitives.ReverseEndianness(newValue))
                + OnesComplement.Delta(BinaryPrimitives.ReverseEndianness(oldWide), BinaryPrimitives.ReverseEndianness(newWide))
                + OnesComplement.Delta(BinaryPrimitives.ReverseEndianness(oldPort), BinaryPrimitives.ReverseEndianness(newPort)));
        Assert.Equal(network, BinaryPrimitives.ReverseEndianness(swapped));
    }

    /// <summary>One 32-bit change through <see cref="OnesComplement"/> matches Lvs.Core's <see cref="Checksum.Update32"/>.</summary>
    [FsCheck.Xunit.Property(MaxTest = 1000)]
    public void Apply_OneChange_MatchesChecksumUpdate32(ushort checksum, uint oldValue, uint newValue) =>
        Assert.Equal(Checksum.Update32(checksum, oldValue, newValue), OnesComplement.Apply(checksum, OnesComplement.Delta(oldValue, newValue)));
}
