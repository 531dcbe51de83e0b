using System.Net;
using Lvs.ConnectionTracking;
using Lvs.Core;
using Lvs.Core.Headers;
using Lvs.Devices;
using Lvs.Devices.Neighbors;
using Lvs.Director;
using Lvs.Director.Configuration;
using Lvs.Director.Statistics;
using Lvs.Forwarding;
using Lvs.HealthChecks;
using Lvs.Hosting;
using Lvs.Scheduling;
using Microsoft.Extensions.Options;

namespace Lvs.WebSdk.Tests;

/// <summary>
/// Every package's namespace imported beside the Web SDK's implicit usings (Microsoft.AspNetCore.Http brings
/// <see cref="Endpoint"/>, System.Net brings <see cref="IPAddress"/> and <see cref="EndPoint"/>): the names must not clash.
/// </summary>
public class WebSdkCompatibilityTests
{
    [Fact]
    public void AspNetCoreEndpointAndLvsAddresses_SideBySide_InOneWebApplication()
    {
        Endpoint aspNetEndpoint = new(_ => Task.CompletedTask, EndpointMetadataCollection.Empty, "health");
        EndPoint socketEndpoint = new IPEndPoint(IPAddress.Loopback, 80);
        InetEndpoint vip = InetEndpoint.Parse("10.0.0.100:80");
        InetAddress server = InetAddress.Parse("10.1.0.11");
        InetPrefix subnet = InetPrefix.Parse("10.1.0.0/24");

        var builder = WebApplication.CreateSlimBuilder();
        builder.Services.AddLvsDirector(options => options.Interfaces.Add("eth0"))
            .ConfigureTable(table => table.AddService(new VirtualServiceOptions(VirtualServiceKey.ForAddress(L4Protocol.Tcp, vip))));
        using var app = builder.Build();
        app.MapGet("/lvs", () => vip.ToString());

        Assert.Equal("health", aspNetEndpoint.DisplayName);
        Assert.Equal("127.0.0.1:80", socketEndpoint.ToString());
        Assert.True(subnet.Contains(server));
        Assert.Equal(["eth0"], app.Services.GetRequiredService<IOptions<LvsDirectorOptions>>().Value.Interfaces);

        // One type from each package, named without qualification.
        Type[] types =
        [
            typeof(SchedulerRegistry), typeof(ConnectionTable), typeof(NatRewriter), typeof(HealthMonitor), typeof(DirectorEngine),
            typeof(IpvsadmListing), typeof(DirectorMetrics), typeof(IFrameLink), typeof(ArpFrameWriter), typeof(LvsDirector), typeof(ArpHeader),
        ];
        Assert.Equal(11, types.Distinct().Count());
    }
}
