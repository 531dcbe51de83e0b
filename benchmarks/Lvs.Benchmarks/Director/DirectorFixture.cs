using System.Buffers.Binary;
using Lvs.Benchmarks.ConnectionTracking;
using Lvs.ConnectionTracking;
using Lvs.Core;
using Lvs.Core.Headers;
using Lvs.Director;

namespace Lvs.Benchmarks.Director;

/// <summary>
/// A director with one service per forwarding method (three real servers each) on two links, and the means to fill it
/// with established connections through its own packet path.
/// </summary>
internal sealed class DirectorFixture : IDisposable
{
    public const int Stride = 256;
    public const int Headroom = 96;
    public static readonly MacAddress ClientLinkMac = MacAddress.Parse("02:00:00:00:00:01");
    public static readonly MacAddress ServerLinkMac = MacAddress.Parse("02:00:00:00:01:01");
    public static readonly MacAddress RouterMac = MacAddress.Parse("02:00:00:00:00:fe");
    public static readonly InetAddress Router = InetAddress.Parse("10.0.0.254");

    /// <param name="method">The forwarding method of the service.</param>
    /// <param name="capacity">The connection table's capacity.</param>
    /// <param name="packetThreads">The packet threads that will share the engine (the table's index partitions, as <c>lvs-director</c> sets them).</param>
    /// <param name="steered">Whether every flow's client packets reach one packet thread (<see cref="ConnectionTableOptions.SteeredFlows"/>, as <c>lvs-director --partition-connections</c> sets it).</param>
    public DirectorFixture(ForwardingMethod method, int capacity, int packetThreads = 1, bool steered = false)
    {
        Method = method;
        Clock = new ManualClock();
        // rr hands out its positions in runs per packet thread (SchedulerOptions.RoundRobinRunsPerThread, as lvs-director
        // --rr-per-thread) unless LVS_BENCH_RR_PER_THREAD=0: the director configured to scale, as the steered partitions.
        // LVS_BENCH_WRR_PER_THREAD=1: wrr keeps a position per packet thread number (SchedulerOptions.WeightedRoundRobinPositionPerThread).
        // LVS_BENCH_COUNTS_REFRESH=N: lc, wlc, sed, nq and ovf read the other threads' counts every N picks (SchedulerOptions.OtherThreadCountsRefreshPicks).
        bool wrrPerThread = Environment.GetEnvironmentVariable("LVS_BENCH_WRR_PER_THREAD") == "1";
        int countsRefresh = int.TryParse(Environment.GetEnvironmentVariable("LVS_BENCH_COUNTS_REFRESH"), out int picks) ? picks : 0;
        bool rrPerThread = Environment.GetEnvironmentVariable("LVS_BENCH_RR_PER_THREAD") != "0";
        Table = new ServiceTable(schedulerOptions: new Lvs.Scheduling.SchedulerOptions
        {
            RoundRobinRunsPerThread = rrPerThread,
            WeightedRoundRobinPositionPerThread = wrrPerThread,
            OtherThreadCountsRefreshPicks = countsRefresh,
        });
        var links = new[]
        {
            new DirectorLink(0, "client", ClientLinkMac, [InetPrefix.Parse("10.0.0.1/24")]),
            new DirectorLink(1, "servers", ServerLinkMac, [InetPrefix.Parse("10.1.0.1/16")]),
        };
        var locals = Enumerable.Range(0, 32).Select(i => InetAddress.Parse($"10.1.200.{i + 1}")).ToArray();
        Engine = new DirectorEngine(
            Table,
            links,
            new DirectorOptions
            {
                Connections = new ConnectionTableOptions { Capacity = capacity, IPv6Capacity = 1024, IndexPartitions = packetThreads, SteeredFlows = steered },
                Gateway = Router,
                LocalAddresses = method == ForwardingMethod.FullNat ? locals : [],
                Forwarding = new Lvs.Forwarding.ForwardingOptions { Mtu = 9000 },
            },
            timeProvider: Clock);
        Vip = InetAddress.Parse("10.0.0.100");
        Key = VirtualServiceKey.ForAddress(L4Protocol.Tcp, new InetEndpoint(Vip, 80));
        // The scheduler: rr, or the one named in LVS_BENCH_SCHEDULER (e.g. wrr, wlc) to compare their new connections.
        Table.AddService(new Lvs.Director.VirtualServiceOptions(Key) { Scheduler = Environment.GetEnvironmentVariable("LVS_BENCH_SCHEDULER") is { Length: > 0 } scheduler ? scheduler : "rr" });
        for (int n = 1; n <= 3; n++)
        {
            var server = InetAddress.Parse($"10.1.0.{10 + n}");
            ushort port = method is ForwardingMethod.Nat or ForwardingMethod.FullNat ? (ushort)8080 : (ushort)80;
            Table.AddRealServer(Key, new RealServerOptions(new InetEndpoint(server, port)) { Method = method });
            Engine.Neighbors.Set(1, server, new MacAddress(0x02_00_00_00_02_00UL + (ulong)n));
        }

        Engine.Neighbors.Set(0, Router, RouterMac);
    }

    public ForwardingMethod Method { get; }

    public ManualClock Clock { get; }

    public ServiceTable Table { get; }

    public DirectorEngine Engine { get; }

    public InetAddress Vip { get; }

    public VirtualServiceKey Key { get; }

    /// <summary>The client of flow <paramref name="i"/>: remote addresses behind the router, 16 ports each.</summary>
    public static (InetAddress Address, ushort Port) Client(int i) => (InetAddress.FromIPv4(0x6400_0000u + (uint)(i >> 4)), (ushort)(10000 + (i & 15)));

    /// <summary>Writes an IPv4 TCP frame (64 bytes on the wire with a 10-byte payload) with valid checksums.</summary>
    public static int WriteTcp(Span<byte> frame, MacAddress source, MacAddress destination, InetAddress from, ushort fromPort, InetAddress to, ushort toPort, TcpFlags flags)
    {
        const int payload = 10;
        frame[..64].Clear();
        destination.WriteTo(frame);
        source.WriteTo(frame[6..]);
        BinaryPrimitives.WriteUInt16BigEndian(frame[12..], 0x0800);
        var ip = frame.Slice(14, 20);
        ip[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(ip[2..], 20 + 20 + payload);
        BinaryPrimitives.WriteUInt16BigEndian(ip[6..], 0x4000);
        ip[8] = 64;
        ip[9] = 6;
        BinaryPrimitives.WriteUInt32BigEndian(ip[12..], from.IPv4Value);
        BinaryPrimitives.WriteUInt32BigEndian(ip[16..], to.IPv4Value);
        BinaryPrimitives.WriteUInt16BigEndian(ip[10..], Checksum.Compute(ip));
        var tcp = frame.Slice(34, 20 + payload);
        BinaryPrimitives.WriteUInt16BigEndian(tcp, fromPort);
        BinaryPrimitives.WriteUInt16BigEndian(tcp[2..], toPort);
        BinaryPrimitives.WriteUInt32BigEndian(tcp[4..], 1000);
        BinaryPrimitives.WriteUInt32BigEndian(tcp[8..], (flags & TcpFlags.Ack) != 0 ? 2000u : 0);
        tcp[12] = 0x50;
        tcp[13] = (byte)flags;
        BinaryPrimitives.WriteUInt16BigEndian(tcp[14..], 65535);
        BinaryPrimitives.WriteUInt16BigEndian(tcp[16..], Checksum.Compute(tcp, Checksum.PseudoHeaderSum(from, to, L4Protocol.Tcp, tcp.Length)));
        return 64;
    }

    /// <summary>Creates <paramref name="count"/> established connections (SYN then ACK through the engine), in batches.</summary>
    public void Establish(int count)
    {
        Establish(count, Engine.CreateWorker(), first: 0, stride: 1);
        if (Engine.Connections.Count != count)
        {
            throw new InvalidOperationException($"{Engine.Connections.Count} connections after setup, expected {count}.");
        }
    }

    /// <summary>
    /// Creates the established connections of clients <paramref name="first"/>, <paramref name="first"/> +
    /// <paramref name="stride"/>, ... below <paramref name="count"/> through <paramref name="worker"/>, so in its packet
    /// thread's partition of the connection table (with steered flows, where that thread's lookups find them).
    /// </summary>
    public void Establish(int count, PacketWorker worker, int first, int stride)
    {
        const int batch = 64;
        var buffer = new byte[batch * Stride];
        var slots = new FrameSlot[batch];
        var verdicts = new FrameVerdict[batch];
        int clients = (count - first + stride - 1) / stride;
        foreach (var flags in new[] { TcpFlags.Syn, TcpFlags.Ack })
        {
            for (int start = 0; start < clients; start += batch)
            {
                int n = Math.Min(batch, clients - start);
                for (int j = 0; j < n; j++)
                {
                    var (client, port) = Client(first + ((start + j) * stride));
                    int offset = (j * Stride) + Headroom;
                    int length = WriteTcp(buffer.AsSpan(offset), RouterMac, ClientLinkMac, client, port, Vip, 80, flags);
                    slots[j] = new FrameSlot(offset, length, 0);
                }

                worker.ProcessBatch(buffer, slots.AsSpan(0, n), verdicts);
                for (int j = 0; j < n; j++)
                {
                    if (verdicts[j].Action != FrameAction.Transmit)
                    {
                        throw new InvalidOperationException($"Setup frame {start + j} ({flags}) was not forwarded: {verdicts[j]}.");
                    }
                }
            }
        }
    }

    public void Dispose() => Engine.Dispose();
}
