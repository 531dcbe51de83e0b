using Lvs.Core;
using Lvs.Devices;
using Lvs.Forwarding;

namespace Lvs.Samples.TunnelAgent;

/// <summary>
/// The agent's loop: frames addressed to this host (its MAC and one of the interface's addresses) that carry IPIP,
/// GRE or GUE are decapsulated by <see cref="TunnelDecapsulator"/> and their inner IP packet written to the TUN
/// device, so the local stack receives it as if it had arrived there and answers from the VIP. Every other frame is
/// left to the kernel (the AF_PACKET socket only taps them).
/// </summary>
internal sealed class TunnelAgent
{
    private readonly IFrameQueue _queue;
    private readonly TunDevice _tun;
    private readonly TunnelDecapsulator _decapsulator;
    private readonly MacAddress _mac;
    private readonly HashSet<InetAddress> _own;
    private readonly long[] _dropped = new long[256];

    internal TunnelAgent(IFrameLink link, TunDevice tun, TunnelDecapsulatorOptions options)
    {
        _queue = link.GetQueue(0);
        _tun = tun;
        _decapsulator = new TunnelDecapsulator(options);
        _mac = link.Mac;
        _own = link.Addresses.Select(prefix => prefix.Address).ToHashSet();
    }

    /// <summary>Inner packets handed to the kernel.</summary>
    internal long Delivered { get; private set; }

    /// <summary>Inner packets the TUN device refused.</summary>
    internal long WriteFailures { get; private set; }

    /// <summary>Runs until cancelled.</summary>
    internal void Run(CancellationToken cancellation)
    {
        var batch = new FrameBatch(64);
        while (!cancellation.IsCancellationRequested)
        {
            if (_queue.Receive(batch, 200) == 0)
            {
                continue;
            }

            foreach (ReceivedFrame frame in batch.Frames)
            {
                Handle(batch.Buffer, frame);
            }

            _queue.Release(batch);
        }
    }

    /// <summary>The tunnel frames dropped, by reason.</summary>
    internal IEnumerable<(DropReason Reason, long Count)> Dropped() =>
        _dropped.Select((count, reason) => ((DropReason)reason, count)).Where(pair => pair.count > 0);

    private void Handle(Span<byte> buffer, ReceivedFrame frame)
    {
        Span<byte> bytes = buffer.Slice(frame.Offset, frame.Length);
        if (MacAddress.Read(bytes) != _mac || FrameParser.Parse(bytes, out ParsedFrame parsed) != DropReason.None)
        {
            return;
        }

        if (parsed.IpVersion is not (4 or 6) || !_own.Contains(parsed.Flow.DestinationAddress) || !MayBeTunnel(parsed))
        {
            return;
        }

        ForwardingVerdict verdict = _decapsulator.Decapsulate(buffer, frame.Offset, frame.Length, parsed);
        if (verdict.Action != ForwardingAction.Transmit)
        {
            if (verdict.Reason != DropReason.NotTunnel)
            {
                _dropped[(int)verdict.Reason]++;
            }

            return;
        }

        int inner = verdict.FrameOffset + parsed.L3Offset;
        if (_tun.TryWrite(buffer.Slice(inner, verdict.FrameLength - parsed.L3Offset)))
        {
            Delivered++;
        }
        else
        {
            WriteFailures++;
        }
    }

    private static bool MayBeTunnel(in ParsedFrame parsed) => parsed.Protocol is (L4Protocol)4 or (L4Protocol)41 or L4Protocol.Gre or L4Protocol.Udp;
}
