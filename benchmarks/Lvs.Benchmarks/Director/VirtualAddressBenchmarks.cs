using BenchmarkDotNet.Attributes;
using Lvs.Core;
using Lvs.Director;

namespace Lvs.Benchmarks.Director;

/// <summary>
/// The engine's first question about every frame: is its destination a virtual address
/// (<see cref="ServiceTableSnapshot.IsVirtualAddress"/>)? Against the peer, a scan of every address (what the snapshot
/// did for any number before), for directors with one to 512 addresses; 64 destinations per operation, half of them
/// virtual (client packets) and half not (replies from real servers).
/// </summary>
[Config(typeof(MedianJobConfig))]
public class VirtualAddressBenchmarks
{
    private const int Lookups = 64;
    private ServiceTableSnapshot _snapshot = ServiceTableSnapshot.Empty;
    private InetAddress[] _addresses = [];
    private InetAddress[] _destinations = [];

    /// <summary>Virtual addresses of the director.</summary>
    [Params(1, 8, 64, 512)]
    public int Addresses { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var table = new ServiceTable();
        for (int i = 0; i < Addresses; i++)
        {
            table.AddService(new Lvs.Director.VirtualServiceOptions(VirtualServiceKey.ForAddress(L4Protocol.Tcp, new InetEndpoint(InetAddress.FromIPv4(0xC633_6400u + (uint)i), 80))));
        }

        _snapshot = table.Snapshot;
        _addresses = _snapshot.VirtualAddresses.ToArray();
        var random = new Random(42);
        _destinations = [.. Enumerable.Range(0, Lookups).Select(i => i % 2 == 0 ? _addresses[random.Next(Addresses)] : InetAddress.FromIPv4(0x0A01_0000u + (uint)random.Next(1000)))];
    }

    /// <summary>The snapshot's lookup.</summary>
    [Benchmark(OperationsPerInvoke = Lookups)]
    public int Snapshot()
    {
        int found = 0;
        foreach (var destination in _destinations)
        {
            found += _snapshot.IsVirtualAddress(destination) ? 1 : 0;
        }

        return found;
    }

    /// <summary>The peer: every address compared in turn.</summary>
    [Benchmark(Baseline = true, OperationsPerInvoke = Lookups)]
    public int LinearScan()
    {
        int found = 0;
        foreach (var destination in _destinations)
        {
            foreach (var vip in _addresses)
            {
                if (vip == destination)
                {
                    found++;
                    break;
                }
            }
        }

        return found;
    }
}
