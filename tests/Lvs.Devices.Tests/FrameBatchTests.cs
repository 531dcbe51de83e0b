namespace Lvs.Devices.Tests;

public class FrameBatchTests
{
    [Fact]
    public void TryAdd_FramesInsideBuffer_ListedInOrderUntilFull()
    {
        var batch = new FrameBatch(capacity: 2, headroom: 64);
        batch.Reset(new byte[4096], owner: null);

        Assert.True(batch.TryAdd(64, 60, 1024));
        Assert.True(batch.TryAdd(1024 + 64, 1514, 2048));
        Assert.False(batch.TryAdd(3000, 10, 10));

        Assert.Equal([new ReceivedFrame(64, 60, 1024), new ReceivedFrame(1088, 1514, 2048)], batch.Frames.ToArray());
        batch.Clear();
        Assert.Equal(0, batch.Count);
    }

    [Theory]
    [InlineData(10, 60, 100)] // inside the headroom
    [InlineData(64, 60, 50)] // room smaller than the frame
    [InlineData(64, 60, 4096)] // past the buffer's end
    public void TryAdd_FrameOutsideItsRoom_Throws(int offset, int length, int capacity)
    {
        var batch = new FrameBatch(capacity: 4, headroom: 64);
        batch.Reset(new byte[4096], owner: null);

        Assert.Throws<ArgumentOutOfRangeException>(() => batch.TryAdd(offset, length, capacity));
    }
}
