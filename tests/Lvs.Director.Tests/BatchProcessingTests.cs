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

    private static bool IsFromServer(Frame frame) => frame.Buffer[frame.Offset + 6 + 4] == 0x02 && frame.Buffer[frame.Offset + 6 + 3] == 0x00 && frame.Buffer[frame.Offset + 10] == 0x02;
}
