using FsCheck;
using FsCheck.Fluent;

namespace Lvs.ConnectionTracking.Tests;

/// <summary>
/// The inbound bucket's vector scans against a plain loop over its cells. The vector width taken depends on the
/// machine (256-bit where accelerated, else 128-bit); running the tests with DOTNET_EnableAVX2=0 takes the other.
/// </summary>
public class InboundBucketTests
{
    [FsCheck.Xunit.Property(MaxTest = 500)]
    public Property TagMatchesAndCellsEqual_AgreeWithAPlainLoop() =>
        Prop.ForAll(
            Arb.From(Gen.ArrayOf(Gen.Elements(0u, 0x0100_0001u, 0x0100_0002u, 0xFF00_0003u, 0x02FF_FFFFu, 0x7F00_0010u), InboundBucket.Cells)),
            Arb.From(Gen.Choose(1, 255)),
            Arb.From(Gen.Choose(1, InboundBucket.OverflowCell)),
            (cells, tag, used) =>
            {
                var bucket = default(InboundBucket);
                for (int i = 0; i < InboundBucket.Cells; i++)
                {
                    bucket[i] = cells[i];
                }

                uint mask = InboundBucket.ConnectionCells >> (InboundBucket.OverflowCell - used);
                uint expectedTags = 0;
                uint expectedEmpty = 0;
                uint expectedValue = 0;
                for (int i = 0; i < used; i++)
                {
                    expectedTags |= (cells[i] >> InboundBucket.TagShift) == (uint)tag ? 1u << i : 0;
                    expectedEmpty |= cells[i] == 0 ? 1u << i : 0;
                    expectedValue |= cells[i] == 0xFF00_0003u ? 1u << i : 0;
                }

                Assert.Equal(expectedTags, bucket.TagMatches((uint)tag, mask));
                Assert.Equal(expectedEmpty, bucket.CellsEqual(0, mask));
                Assert.Equal(expectedValue, bucket.CellsEqual(0xFF00_0003u, mask));
            });

    [Fact]
    public void Cell_HoldsIndexPlusOneUnderTheTag_AndFirstOrOverflowFallsBackToTheOverflowCell()
    {
        uint cell = InboundBucket.Cell(0xAB, 16_777_213);
        Assert.Equal(0xABFF_FFFEu, cell);
        Assert.Equal(16_777_213, InboundBucket.IndexOf(cell));
        Assert.Equal(-1, InboundBucket.IndexOf(0));
        Assert.Equal(InboundBucket.OverflowCell, InboundBucket.FirstOrOverflow(0));
        Assert.Equal(3, InboundBucket.FirstOrOverflow(0b1_1000));
    }
}
