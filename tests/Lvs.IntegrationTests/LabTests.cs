using Lvs.IntegrationTests.Lab;

namespace Lvs.IntegrationTests;

/// <summary>The lab itself: namespaces, veths, a bridge, kernel routing, the HTTP responder and client.</summary>
public class LabTests
{
    [Fact]
    public async Task KernelRouter_ClientDownloadsFromServer_IntactAndLabRemovedAfter()
    {
        Prerequisites.Require();
        string prefix;
        using (var lab = new NetworkLab())
        {
            prefix = lab.Prefix;
            var client = lab.AddNamespace("client");
            var router = lab.AddNamespace("router");
            var switchNs = lab.AddNamespace("sw");
            var server = lab.AddNamespace("rs1");
            NetworkLab.Connect(client, "eth0", router, "c0");
            NetworkLab.AddBridge(switchNs, "br0");
            NetworkLab.Plug(router, "s0", switchNs, "br0", "p0");
            NetworkLab.Plug(server, "eth0", switchNs, "br0", "p1");
            client.Ip("addr", "add", "10.0.0.2/24", "dev", "eth0");
            client.Ip("route", "add", "default", "via", "10.0.0.1");
            router.Ip("addr", "add", "10.0.0.1/24", "dev", "c0");
            router.Ip("addr", "add", "10.1.0.1/24", "dev", "s0");
            router.Sysctl("net.ipv4.ip_forward=1");
            server.Ip("addr", "add", "10.1.0.11/24", "dev", "eth0");
            server.Ip("route", "add", "default", "via", "10.1.0.1");

            await using var responder = new HttpResponder(server, "rs1", 80);
            using var http = new LabClient(client);

            Assert.Equal("rs1", await http.WhoAmIAsync("10.1.0.11:80"));
            Assert.Equal(HttpResponder.BigContent, await http.BigAsync("10.1.0.11:80", TestContext.Current.CancellationToken));
            Assert.Equal(2, responder.Requests);
        }

        var left = Shell.Run("ip", "netns", "list");
        Assert.DoesNotContain(prefix, left, StringComparison.Ordinal);
    }
}
