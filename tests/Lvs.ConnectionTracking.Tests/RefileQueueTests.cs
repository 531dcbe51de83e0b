namespace Lvs.ConnectionTracking.Tests;

public class RefileQueueTests
{
    [Fact]
    public void TryEnqueue_UpToCapacity_ThenFullAndDequeuedInOrder()
    {
        var queue = new RefileQueue(4);
        for (int i = 0; i < 4; i++)
        {
            Assert.True(queue.TryEnqueue(i, (uint)(100 + i)));
        }

        Assert.False(queue.TryEnqueue(9, 9));
        for (int i = 0; i < 4; i++)
        {
            Assert.True(queue.TryDequeue(out int index, out uint generation));
            Assert.Equal((i, (uint)(100 + i)), (index, generation));
        }

        Assert.False(queue.TryDequeue(out _, out _));

        // Wraps around.
        Assert.True(queue.TryEnqueue(16_777_213, 0xFF_FFFF));
        Assert.True(queue.TryDequeue(out int last, out uint lastGeneration));
        Assert.Equal((16_777_213, 0xFF_FFFFu), (last, lastGeneration));
    }

    [Fact]
    public void TryEnqueue_ThreeThreadsAndAConcurrentConsumer_EveryAcceptedItemComesOutOnce()
    {
        var queue = new RefileQueue(256);
        const int PerThread = 100_000;
        var accepted = new int[3];
        var seen = new int[3 * PerThread];
        using var done = new CountdownEvent(3);
        var producers = Enumerable.Range(0, 3).Select(t => new Thread(() =>
        {
            for (int i = 0; i < PerThread; i++)
            {
                if (queue.TryEnqueue((t * PerThread) + i, (uint)t))
                {
                    accepted[t]++;
                }
            }

            done.Signal();
        })).ToArray();
        foreach (var p in producers)
        {
            p.Start();
        }

        int taken = 0;
        while (!done.IsSet)
        {
            while (queue.TryDequeue(out int index, out uint generation))
            {
                Assert.Equal((uint)(index / PerThread), generation);
                seen[index]++;
                taken++;
            }
        }

        while (queue.TryDequeue(out int index, out _))
        {
            seen[index]++;
            taken++;
        }

        Assert.Equal(accepted.Sum(), taken);
        Assert.All(seen, count => Assert.InRange(count, 0, 1));
        Assert.True(taken > 0);
    }
}
