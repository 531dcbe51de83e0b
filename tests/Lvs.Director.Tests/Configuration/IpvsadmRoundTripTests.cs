using FsCheck;
using FsCheck.Fluent;
using Lvs.Core;
using Lvs.Director.Configuration;
using Lvs.Scheduling;

namespace Lvs.Director.Tests.Configuration;

/// <summary>Round trip: any table printed as ipvsadm-save and parsed back gives the same table.</summary>
public sealed class IpvsadmRoundTripTests
{
    private static readonly string[] Schedulers = [.. new SchedulerRegistry().Names];

    [FsCheck.Xunit.Property(MaxTest = 200)]
    public Property Save_ThenParse_GivesBackTheSameTable() =>
        Prop.ForAll(Arb.From(TableGen()), services =>
        {
            var original = Build(services);
            string saved = IpvsadmListing.Save(original.Snapshot, includeThresholds: true);
            var copy = new ServiceTable();
            IpvsadmRulesParser.Parse(saved, "saved.rules").ApplyTo(copy);

            // The same lines; their order may differ: libipvs's comparison wraps (it is not transitive for addresses
            // 2^31 apart), so the sorted order depends on the order the services were added, as in ipvsadm.
            Assert.Equal(
                saved.Split('\n').Order(StringComparer.Ordinal),
                IpvsadmListing.Save(copy.Snapshot, includeThresholds: true).Split('\n').Order(StringComparer.Ordinal));
            Assert.Equal(original.Snapshot.Services.Count, copy.Snapshot.Services.Count);
            foreach (var service in original.Snapshot.Services)
            {
                var other = copy.Snapshot.Find(service.Key);
                Assert.NotNull(other);
                Assert.Equal(service.Options, other.Options);
                Assert.Equal(
                    service.Configured.Select(s => s.Options).OrderBy(o => o.Endpoint.ToString(), StringComparer.Ordinal),
                    other.Configured.Select(s => s.Options).OrderBy(o => o.Endpoint.ToString(), StringComparer.Ordinal));
            }

            return true;
        });

    private static ServiceTable Build(IReadOnlyList<(VirtualServiceOptions Service, RealServerOptions[] Servers)> services)
    {
        var table = new ServiceTable();
        foreach (var (service, servers) in services)
        {
            _ = table.AddService(service);
            foreach (var server in servers)
            {
                _ = table.AddRealServer(service.Key, server);
            }
        }

        return table;
    }

    private static Gen<InetAddress> Address(bool ipv6) =>
        ipv6
            ? from high in Gen.Choose(0, int.MaxValue)
              from low in Gen.Choose(int.MinValue, int.MaxValue)
              from last in Gen.Choose(1, 0xFFFF)
              select new InetAddress(0x2001_0DB8_0000_0000UL | (uint)high, ((ulong)(uint)low << 16) | (uint)last)
            : from a in Gen.Choose(1, 223)
              from rest in Gen.Choose(0, 0xFFFFFF)
              select InetAddress.FromIPv4(((uint)a << 24) | (uint)rest);

    private static Gen<VirtualServiceKey> KeyGen() =>
        from kind in Gen.Elements(0, 0, 1, 2)
        from ipv6 in Gen.Elements(false, false, true)
        from address in Address(ipv6)
        from port in Gen.Elements(0, 80, 443, 53, 65535, 8080)
        from mark in Gen.Choose(1, int.MaxValue)
        select kind switch
        {
            0 => VirtualServiceKey.ForAddress(L4Protocol.Tcp, new InetEndpoint(address, (ushort)port)),
            1 => VirtualServiceKey.ForAddress(L4Protocol.Udp, new InetEndpoint(address, (ushort)port)),
            _ => VirtualServiceKey.ForFirewallMark((uint)mark, ipv6),
        };

    private static Gen<VirtualServiceOptions> ServiceGen() =>
        from key in KeyGen()
        from scheduler in Gen.Elements(Schedulers)
        from flags in Gen.Choose(0, 7)
        from persistent in Gen.Elements(true, false)
        from timeout in Gen.Choose(1, Lvs.ConnectionTracking.ConnectionTimeouts.MaxSeconds)
        from prefix in Gen.Choose(-1, 127)
        from ops in Gen.Elements(true, false)
        let isPersistent = persistent || (!key.IsFirewallMark && key.Endpoint.Port == 0)
        let maxPrefix = key.IsIPv6 ? 127 : 31
        select new VirtualServiceOptions(key)
        {
            Scheduler = scheduler,
            // ipvsadm does not print flag-3 for sh and mh (print_sched_flags): such rules lose it.
            SchedulerFlags = scheduler is SchedulerNames.SourceHashing or SchedulerNames.MaglevHashing ? (SchedulerFlags)(flags & 3) : (SchedulerFlags)flags,
            PersistenceTimeout = isPersistent ? timeout : 0,
            PersistencePrefixLength = isPersistent && prefix >= (key.IsIPv6 ? 1 : 0) && prefix <= maxPrefix ? prefix : null,
            OnePacket = ops && (key.IsFirewallMark || key.Protocol == L4Protocol.Udp),
        };

    private static Gen<RealServerOptions> ServerGen(VirtualServiceKey service) =>
        from method in Gen.Elements(ForwardingMethod.DirectRouting, ForwardingMethod.Nat, ForwardingMethod.Tunnel, ForwardingMethod.FullNat)
        from crossFamily in Gen.Elements(false, false, false, true)
        let ipv6 = method == ForwardingMethod.Tunnel && crossFamily ? !service.IsIPv6 : service.IsIPv6
        from address in Address(ipv6)
        from port in Gen.Choose(0, 65535)
        from weight in Gen.Choose(0, RealServer.MaxWeight)
        from tunnel in Gen.Elements(TunnelType.IpIp, TunnelType.Gue, TunnelType.Gre)
        from tunnelPort in Gen.Choose(1, 65535)
        from checksum in Gen.Elements(TunnelFlags.None, TunnelFlags.Checksum, TunnelFlags.RemoteChecksum)
        from upper in Gen.Choose(0, 1000)
        from lower in Gen.Choose(0, 1000)
        let isTunnel = method == ForwardingMethod.Tunnel
        let keepsPort = method is ForwardingMethod.DirectRouting or ForwardingMethod.Tunnel
        select new RealServerOptions(new InetEndpoint(address, (ushort)(service.IsFirewallMark || !keepsPort ? port : service.Endpoint.Port)))
        {
            Method = method,
            Weight = weight,
            TunnelType = isTunnel ? tunnel : TunnelType.IpIp,
            TunnelPort = isTunnel && tunnel == TunnelType.Gue ? (ushort)tunnelPort : (ushort)0,
            TunnelFlags = !isTunnel || tunnel == TunnelType.IpIp ? TunnelFlags.None
                : tunnel == TunnelType.Gre && checksum == TunnelFlags.RemoteChecksum ? TunnelFlags.Checksum
                : checksum,
            UpperThreshold = Math.Max(upper, lower),
            LowerThreshold = Math.Min(upper, lower),
        };

    private static Gen<(VirtualServiceOptions Service, RealServerOptions[] Servers)> EntryGen() =>
        from service in ServiceGen()
        from servers in Gen.ListOf(ServerGen(service.Key))
        select (service, servers.DistinctBy(s => s.Endpoint).Take(8).ToArray());

    private static Gen<List<(VirtualServiceOptions Service, RealServerOptions[] Servers)>> TableGen() =>
        from entries in Gen.ListOf(EntryGen())
        select entries.DistinctBy(e => e.Service.Key).Take(12).ToList();
}
