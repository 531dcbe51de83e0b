using System.Buffers.Binary;
using Lvs.Core;
using Lvs.Director.Simulation;
using Lvs.Forwarding;

namespace Lvs.Director.Replay;

/// <summary>
/// Replays captured frames through a director on simulated links: each input frame arrives on the link whose MAC
/// address it is sent to (a broadcast or multicast on every link whose subnet holds its target: an ARP request's
/// target address, a neighbour solicitation's target, else the IP destination), in timestamp order across all the
/// inputs, with the captures' timestamps as the engine's clock; every frame the director sends is collected in order.
/// </summary>
/// <remarks>
/// Frames the director itself sent (source MAC address one of the links') are skipped: a capture of a link holds both
/// directions. Neighbours are given explicitly (<see cref="ReplayOptions.Neighbors"/>); a frame whose next hop is not
/// among them is dropped as <see cref="DropReason.NeighborUnresolved"/>. The connection table's housekeeping (expiry)
/// runs whenever the capture's clock passes a whole second. Capture files are read and written by the caller (the
/// sample's <c>replay</c> command uses SharpPcap): this class takes and gives frames.
/// </remarks>
public sealed class CaptureReplayer : IDisposable
{
    private readonly ServiceTable _table;
    private readonly ReplayOptions _options;
    private readonly DirectorLink[] _links;
    private DirectorEngine? _engine;

    /// <summary>Creates a replayer.</summary>
    /// <param name="table">The services and real servers.</param>
    /// <param name="options">The links, neighbours, gateways and local addresses.</param>
    /// <exception cref="ArgumentException">There is no link, or a neighbour is on no link's subnet.</exception>
    public CaptureReplayer(ServiceTable table, ReplayOptions options)
    {
        ArgumentNullException.ThrowIfNull(table);
        ArgumentNullException.ThrowIfNull(options);
        _table = table;
        _options = options;
        var byMac = new List<(MacAddress Mac, List<InetPrefix> Addresses)>();
        foreach (var link in options.Links)
        {
            int found = byMac.FindIndex(entry => entry.Mac == link.Mac);
            if (found < 0)
            {
                byMac.Add((link.Mac, [link.Address]));
            }
            else
            {
                byMac[found].Addresses.Add(link.Address);
            }
        }

        if (byMac.Count == 0)
        {
            throw new ArgumentException("A replay needs at least one link (ADDRESS/PREFIX@MAC).", nameof(options));
        }

        _links = [.. byMac.Select((entry, index) => new DirectorLink(index, $"link{index}", entry.Mac, entry.Addresses))];
        foreach (var neighbor in options.Neighbors)
        {
            if (!_links.Any(link => link.IsOnLink(neighbor.Address)))
            {
                throw new ArgumentException($"The neighbour {neighbor.Address} is on no link's subnet.", nameof(options));
            }
        }
    }

    /// <summary>The links, numbered as <see cref="ReplayedFrame.Link"/> numbers them (one per distinct MAC address, in order).</summary>
    public IReadOnlyList<DirectorLink> Links => _links;

    /// <summary>The engine of the last replay (its counters, connection table and listings); null before the first.</summary>
    public DirectorEngine? Engine => _engine;

    /// <summary>Replays captures: a fresh engine (empty connection table) takes every input frame in timestamp order.</summary>
    /// <param name="inputs">The captures, each in its own order; frames of equal timestamps keep the order of the inputs, then their own.</param>
    /// <returns>The frames sent, the drops by reason, and the frames skipped.</returns>
    public ReplayResult Replay(IReadOnlyList<IReadOnlyList<CapturedFrame>> inputs)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        var order = new List<(DateTimeOffset Time, int Input, int Position)>();
        for (int input = 0; input < inputs.Count; input++)
        {
            for (int position = 0; position < inputs[input].Count; position++)
            {
                order.Add((inputs[input][position].Timestamp, input, position));
            }
        }

        order.Sort();
        var clock = new SimulationClock(order.Count > 0 ? order[0].Time : DateTimeOffset.UnixEpoch);
        _engine?.Dispose();
        var engine = _engine = CreateEngine(clock);
        var worker = engine.CreateWorker();
        var outputs = new List<ReplayedFrame>();
        var drops = new Dictionary<DropReason, int>();
        int processed = 0, skippedOwn = 0, notAddressed = 0, delivered = 0, consumed = 0;
        long second = clock.GetTimestamp() / TimeSpan.TicksPerSecond;
        Span<int> targets = stackalloc int[_links.Length];
        byte[] buffer = [];
        foreach (var (time, input, position) in order)
        {
            var data = inputs[input][position].Data.Span;
            clock.MoveTo(time);
            long now = clock.GetTimestamp() / TimeSpan.TicksPerSecond;
            if (now != second)
            {
                second = now;
                _ = engine.Connections.RunHousekeeping();
            }

            if (data.Length < 14)
            {
                drops[DropReason.Truncated] = drops.GetValueOrDefault(DropReason.Truncated) + 1;
                continue;
            }

            var source = MacAddress.Read(data[6..]);
            if (_links.Any(link => link.Mac == source))
            {
                skippedOwn++;
                continue;
            }

            int count = ArrivalLinks(data, targets);
            if (count == 0)
            {
                notAddressed++;
                continue;
            }

            for (int i = 0; i < count; i++)
            {
                // Headroom for tunnel headers and ICMP errors; room after for a tunnelled packet's fragments.
                int needed = FrameHeadroom.Required + (2 * data.Length) + 256;
                if (buffer.Length < needed)
                {
                    buffer = new byte[needed];
                }

                data.CopyTo(buffer.AsSpan(FrameHeadroom.Required));
                var verdict = worker.Process(buffer, FrameHeadroom.Required, data.Length, targets[i]);
                processed++;
                switch (verdict.Action)
                {
                    case FrameAction.Transmit:
                        // An ICMP error in the packet's place: the packet itself was dropped for that reason.
                        var cause = verdict.Reason == DropReason.ExceedsMtu ? DropReason.None : verdict.Reason;
                        if (cause != DropReason.None)
                        {
                            drops[cause] = drops.GetValueOrDefault(cause) + 1;
                        }

                        for (int f = 0; f < verdict.FrameCount; f++)
                        {
                            var (offset, length) = verdict.GetFrame(f);
                            outputs.Add(new ReplayedFrame(time, verdict.Link, buffer.AsSpan(offset, length).ToArray(), cause));
                        }

                        break;
                    case FrameAction.Drop:
                        drops[verdict.Reason] = drops.GetValueOrDefault(verdict.Reason) + 1;
                        break;
                    case FrameAction.ResolveNeighbor:
                        drops[DropReason.NeighborUnresolved] = drops.GetValueOrDefault(DropReason.NeighborUnresolved) + 1;
                        break;
                    case FrameAction.Deliver:
                        delivered++;
                        break;
                    default:
                        consumed++;
                        break;
                }
            }
        }

        return new ReplayResult
        {
            Outputs = outputs,
            Drops = drops,
            Processed = processed,
            SkippedOwn = skippedOwn,
            NotAddressed = notAddressed,
            Delivered = delivered,
            Consumed = consumed,
        };
    }

    /// <summary>Releases the last replay's engine.</summary>
    public void Dispose() => _engine?.Dispose();

    private DirectorEngine CreateEngine(SimulationClock clock)
    {
        var options = _options.Director with
        {
            Gateway = _options.Gateway ?? _options.Director.Gateway,
            GatewayV6 = _options.GatewayV6 ?? _options.Director.GatewayV6,
            LocalAddresses = [.. _options.Director.LocalAddresses.Concat(_options.LocalAddresses).Distinct()],
        };
        var engine = new DirectorEngine(_table, _links, options, new NeighborTable(clock), clock);
        foreach (var neighbor in _options.Neighbors)
        {
            foreach (var link in _links)
            {
                if (link.IsOnLink(neighbor.Address))
                {
                    engine.Neighbors.Set(link.Index, neighbor.Address, neighbor.Mac);
                }
            }
        }

        return engine;
    }

    /// <summary>The links a frame arrives on: the one its destination MAC names, or for a broadcast or multicast every link whose subnet holds its target.</summary>
    private int ArrivalLinks(ReadOnlySpan<byte> frame, Span<int> links)
    {
        var destination = MacAddress.Read(frame);
        if (!destination.IsMulticast)
        {
            for (int i = 0; i < _links.Length; i++)
            {
                if (_links[i].Mac == destination)
                {
                    links[0] = i;
                    return 1;
                }
            }

            return 0;
        }

        if (!TryGetTarget(frame, out var target))
        {
            return 0;
        }

        int count = 0;
        for (int i = 0; i < _links.Length; i++)
        {
            if (_links[i].IsOnLink(target))
            {
                links[count++] = i;
            }
        }

        return count;
    }

    /// <summary>A broadcast's target: an ARP packet's target address, a neighbour solicitation's target, else the IP destination (past VLAN tags).</summary>
    private static bool TryGetTarget(ReadOnlySpan<byte> frame, out InetAddress target)
    {
        target = default;
        int offset = 12;
        ushort type = BinaryPrimitives.ReadUInt16BigEndian(frame[offset..]);
        while (type is 0x8100 or 0x88A8 && frame.Length >= offset + 6)
        {
            offset += 4;
            type = BinaryPrimitives.ReadUInt16BigEndian(frame[offset..]);
        }

        var payload = frame[(offset + 2)..];
        switch (type)
        {
            case 0x0806 when payload.Length >= 28:
                target = InetAddress.ReadIPv4(payload[24..]);
                return true;
            case 0x0800 when payload.Length >= 20:
                target = InetAddress.ReadIPv4(payload[16..]);
                return true;
            case 0x86DD when payload.Length >= 40:
                // A neighbour solicitation (ICMPv6 type 135 right after the header) names its target in the message.
                target = payload[6] == 58 && payload.Length >= 40 + 24 && payload[40] == 135
                    ? InetAddress.ReadIPv6(payload[48..])
                    : InetAddress.ReadIPv6(payload[24..]);
                return true;
            default:
                return false;
        }
    }
}
