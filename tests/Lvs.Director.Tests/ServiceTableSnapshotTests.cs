using Lvs.Core;

namespace Lvs.Director.Tests;

public class ServiceTableSnapshotTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(ServiceTableSnapshot.LinearScanLimit)]
    [InlineData(ServiceTableSnapshot.LinearScanLimit + 1)]
    [InlineData(300)]
    public void IsVirtualAddress_AnyNumberOfServices_TrueForEveryVirtualAddressAndNoOther(int services)
    {
        // Below the limit the addresses are compared one by one, above it looked up in a hashed set: the same answers.
        var table = new ServiceTable();
        var vips = new List<InetAddress>();
        for (int i = 0; i < services; i++)
        {
            var vip = i % 2 == 0 ? InetAddress.FromIPv4(0xC633_6400u + (uint)i) : InetAddress.Parse($"2001:db8::{i:x}");
            vips.Add(vip);
            table.AddService(new VirtualServiceOptions(VirtualServiceKey.ForAddress(L4Protocol.Tcp, new InetEndpoint(vip, 80))));
        }

        // A second port on the first address adds no address.
        table.AddService(new VirtualServiceOptions(VirtualServiceKey.ForAddress(L4Protocol.Udp, new InetEndpoint(vips[0], 53))));
        var snapshot = table.Snapshot;
        Assert.Equal(services, snapshot.VirtualAddresses.Length);
        Assert.All(vips, vip => Assert.True(snapshot.IsVirtualAddress(vip), vip.ToString()));
        Assert.False(snapshot.IsVirtualAddress(InetAddress.FromIPv4(0xC633_6400u + (uint)services + 1)));
        Assert.False(snapshot.IsVirtualAddress(InetAddress.Parse("2001:db8::ffff:1")));
        Assert.False(snapshot.IsVirtualAddress(InetAddress.Parse("10.0.0.1")));
    }
}
