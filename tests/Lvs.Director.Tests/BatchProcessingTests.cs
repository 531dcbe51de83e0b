using Lvs.Core;

namespace Lvs.Director.Tests;

/// <summary>The batched path gives the verdicts and bytes of the one-by-one path, frame for frame.</summary>
public class BatchProcessingTests
{
    private static List<Func<Lab, Frame>> Script()
    {
        var script = new List<Func<Lab, Frame>>();
        for (int flow = 0; flow < 150; flow++)
        {
            ushort port = (ushort)(20000 + flow);
            int server = (flow % 3) + 1;
            script.Add(lab => Lab.Tcp(Lab.ClientMac, Lab.ClientLinkMac, lab.Client, port, lab.Vip, 80, "S"));
            script.Add(lab => Lab.Tcp(Lab.ServerMac(server), Lab.ServerLinkMac, lab.Server(server), 8080, lab.Client, port, "SA"));
            script.Add(lab => Lab.Tcp(Lab.ClientMac, Lab.ClientLinkMac, lab.Client, port, lab.Vip, 80, "A", payload: flow % 40));
            if (flow % 7 == 0)
            {
                // A segment that matches nothing (dropped), and a frame for another host (delivered).
                script.Add(lab => Lab.Tcp(Lab.ClientMac, Lab.ClientLinkMac, lab.Client, (ushort)(port + 1000), lab.Vip, 80, "A"));
                script.Add(lab => Lab.Tcp(Lab.ClientMac, Lab.ClientLinkMac, lab.Client, port, InetAddress.Parse("10.0.0.77"), 80, "S"));
            }
        }

        return script;
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(64)]
    [InlineData(200)]
    public void ProcessBatch_SameVerdictsAndBytesAsProcess(int batch)
    {
        using var single = new Lab();
        using var batched = new Lab();
        single.AddService("rr", ForwardingMethod.Nat, count: 3);
        batched.AddService("rr", ForwardingMethod.Nat, count: 3);
        var script = Script();

        // Frames are sent in windows; within a window the batched lab gets them at once in one buffer.
        for (int start = 0; start < script.Count; start += batch)
        {
            var window = script.Skip(start).Take(batch).ToList();
            var expected = new List<(FrameVerdict Verdict, byte[] Bytes)>();
            foreach (var make in window)
            {
                var frame = make(single);
                var verdict = single.Send(frame, frame.Buffer.Length > 0 && IsFromServer(frame) ? 1 : 0);
                expected.Add((verdict, verdict.Action == FrameAction.Transmit ? frame.Buffer[verdict.Offset..(verdict.Offset + verdict.Length)] : []));
            }

            const int stride = 512;
            var buffer = new byte[window.Count * stride];
            var slots = new FrameSlot[window.Count];
            for (int i = 0; i < window.Count; i++)
            {
                var frame = window[i](batched);
                var bytes = frame.Buffer.AsSpan(frame.Offset, frame.Length);
                int offset = (i * stride) + 128;
                bytes.CopyTo(buffer.AsSpan(offset));
                slots[i] = new FrameSlot(offset, frame.Length, IsFromServer(frame) ? 1 : 0);
            }

            var verdicts = new FrameVerdict[window.Count];
            batched.Worker.ProcessBatch(buffer, slots, verdicts);
            for (int i = 0; i < window.Count; i++)
            {
                var (verdict, bytes) = expected[i];
                Assert.Equal(verdict.Action, verdicts[i].Action);
                Assert.Equal(verdict.Reason, verdicts[i].Reason);
                Assert.Equal(verdict.Link, verdicts[i].Link);
                if (verdict.Action == FrameAction.Transmit)
                {
                    Assert.Equal(bytes, buffer[verdicts[i].Offset..(verdicts[i].Offset + verdicts[i].Length)]);
                }
            }
        }

        var a = single.Engine.GetCounters(single.Table.Snapshot.Services[0]);
        var b = batched.Engine.GetCounters(batched.Table.Snapshot.Services[0]);
        Assert.Equal(a, b);
        Assert.Equal(150, a.Connections);
        Assert.Equal(single.Engine.GetDropCount(DropReason.NotSyn), batched.Engine.GetDropCount(DropReason.NotSyn));
        Assert.True(batched.Engine.GetDropCount(DropReason.NotSyn) > 0);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(3500)]
    public void ProcessBatch_TunnelFragmentsStayInTheirFramesRoom(int capacity)
    {
        // Two UDP frames packed back to back, as in a TPACKET_V3 block; the first is tunnelled over a small MTU and
        // needs outer fragments, which are written after it: only inside its own room, never over the second frame.
        using var lab = new Lab(serverLinkMtu: 600);
        lab.AddService("rr", ForwardingMethod.Tunnel, count: 1, protocol: L4Protocol.Udp, port: 53);
        var first = Lab.Udp(Lab.ClientMac, Lab.ClientLinkMac, lab.Client, 4000, lab.Vip, 53, payload: 1000);
        var second = Lab.Udp(Lab.ClientMac, Lab.ClientLinkMac, lab.Client, 4001, lab.Vip, 53, payload: 100);
        // The second frame starts right after the first one's room and its own headroom.
        int secondOffset = 128 + Math.Max(capacity, first.Length) + 128;
        var buffer = new byte[secondOffset + Math.Max(capacity, 2048)];
        first.Buffer.AsSpan(first.Offset, first.Length).CopyTo(buffer.AsSpan(128));
        second.Buffer.AsSpan(second.Offset, second.Length).CopyTo(buffer.AsSpan(secondOffset));
        var secondBefore = buffer.AsSpan(secondOffset, second.Length).ToArray();
        FrameSlot[] slots = [new(128, first.Length, 0, capacity), new(secondOffset, second.Length, 0, capacity)];
        var verdicts = new FrameVerdict[2];

        lab.Worker.ProcessBatch(buffer, slots, verdicts);

        if (capacity == 0)
        {
            // No room after the frame: the kernel would fragment, but there is nowhere to write the fragments.
            Assert.Equal(FrameAction.Drop, verdicts[0].Action);
            Assert.Equal(DropReason.ExceedsMtu, verdicts[0].Reason);
        }
        else
        {
            Assert.Equal(FrameAction.Transmit, verdicts[0].Action);
            Assert.True(verdicts[0].FrameCount > 1);
            var (lastOffset, lastLength) = verdicts[0].GetFrame(verdicts[0].FrameCount - 1);
            Assert.True(lastOffset + lastLength <= 128 + capacity);
        }

        // The second frame was read intact: it is tunnelled whole (one frame), carrying its original UDP datagram (the
        // inner IP header's TTL is decremented on the way, as the kernel does).
        Assert.Equal(FrameAction.Transmit, verdicts[1].Action);
        Assert.Equal(1, verdicts[1].FrameCount);
        var inner = secondBefore.AsSpan(14 + 20).ToArray();
        var output = buffer.AsSpan(verdicts[1].Offset, verdicts[1].Length).ToArray();
        Assert.Equal(inner, output[(output.Length - inner.Length)..]);
    }

    [Fact]
    public void ProcessBatch_SlotWhoseRoomPassesTheBuffer_DroppedTruncated()
    {
        using var lab = new Lab();
        lab.AddService("rr", ForwardingMethod.Nat, count: 1);
        var frame = Lab.Tcp(Lab.ClientMac, Lab.ClientLinkMac, lab.Client, 4000, lab.Vip, 80, "S");
        var buffer = new byte[1024];
        frame.Buffer.AsSpan(frame.Offset, frame.Length).CopyTo(buffer.AsSpan(128));
        var verdicts = new FrameVerdict[1];

        lab.Worker.ProcessBatch(buffer, [new FrameSlot(128, frame.Length, 0, Capacity: 2000)], verdicts);

        Assert.Equal((FrameAction.Drop, DropReason.Truncated), (verdicts[0].Action, verdicts[0].Reason));
    }

    private static bool IsFromServer(Frame frame) => frame.Buffer[frame.Offset + 6 + 4] == 0x02 && frame.Buffer[frame.Offset + 6 + 3] == 0x00 && frame.Buffer[frame.Offset + 10] == 0x02;
}
