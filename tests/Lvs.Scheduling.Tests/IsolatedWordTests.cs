using System.Runtime.CompilerServices;

namespace Lvs.Scheduling.Tests;

public class IsolatedWordTests
{
    [Fact]
    public void Word_HasSixtyFourBytesOfPaddingOnEachSide()
    {
        // rr's and wrr's cursors are advanced by every packet thread on each new connection: whatever the object's
        // alignment, no other field or object may share the word's cache line.
        var word = default(IsolatedWord);
        long offset = Unsafe.ByteOffset(ref Unsafe.As<IsolatedWord, byte>(ref word), ref Unsafe.As<long, byte>(ref word.Value));
        Assert.Equal(64, offset);
        Assert.True(Unsafe.SizeOf<IsolatedWord>() - offset - sizeof(long) >= 64);
    }
}
