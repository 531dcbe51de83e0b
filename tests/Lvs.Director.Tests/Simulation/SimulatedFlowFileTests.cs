using Lvs.Core;
using Lvs.Director.Configuration;
using Lvs.Director.Simulation;

namespace Lvs.Director.Tests.Simulation;

public sealed class SimulatedFlowFileTests
{
    [Fact]
    public void Parse_ProtocolsFamiliesCommentsAndBlankLines()
    {
        var flows = SimulatedFlowFile.Parse("""
            # client flows
            tcp 192.0.2.7:40000 10.0.0.100:80

            UDP	192.0.2.8:53000   10.0.0.100:53   # tabs and spaces
            tcp [2001:db8:9::7]:40000 [2001:db8::100]:443
            sctp 192.0.2.9:5000 10.0.0.100:36412
            """);

        Assert.Equal(
            [
                new SimulatedFlow(L4Protocol.Tcp, InetEndpoint.Parse("192.0.2.7:40000"), InetEndpoint.Parse("10.0.0.100:80")),
                new SimulatedFlow(L4Protocol.Udp, InetEndpoint.Parse("192.0.2.8:53000"), InetEndpoint.Parse("10.0.0.100:53")),
                new SimulatedFlow(L4Protocol.Tcp, InetEndpoint.Parse("[2001:db8:9::7]:40000"), InetEndpoint.Parse("[2001:db8::100]:443")),
                new SimulatedFlow(L4Protocol.Sctp, InetEndpoint.Parse("192.0.2.9:5000"), InetEndpoint.Parse("10.0.0.100:36412")),
            ],
            flows);
        Assert.Equal("tcp [2001:db8:9::7]:40000 [2001:db8::100]:443", flows[2].ToString());
        Assert.Equal("sctp 192.0.2.9:5000 10.0.0.100:36412", flows[3].ToString());
    }

    [Fact]
    public void Parse_BadLines_ReportsEveryOneAsFileColonLine()
    {
        const string Text = "tcp 192.0.2.7:40000 10.0.0.100:80\nicmp 192.0.2.7:1 10.0.0.100:80\ntcp 192.0.2.7 10.0.0.100:80\n\ntcp 192.0.2.7:1 [2001:db8::1]:80\ntcp 192.0.2.7:1\nudp 2001:db8::7:1 10.0.0.100:80\n";

        var error = Assert.Throws<ConfigurationException>(() => SimulatedFlowFile.Parse(Text, "flows.txt"));

        Assert.Equal([2, 3, 5, 6, 7], error.Errors.Select(e => e.Line).ToArray());
        Assert.All(error.Errors, e => Assert.Equal("flows.txt", e.File));
        var lines = error.Message.Split('\n');
        Assert.Equal(5, lines.Length);
        Assert.StartsWith("flows.txt:2: unknown protocol 'icmp' (tcp, udp or sctp)", lines[0], StringComparison.Ordinal);
        Assert.StartsWith("flows.txt:3: bad client endpoint '192.0.2.7'", lines[1], StringComparison.Ordinal);
        Assert.StartsWith("flows.txt:5: client 192.0.2.7:1 and virtual address [2001:db8::1]:80 are not of the same family", lines[2], StringComparison.Ordinal);
        Assert.StartsWith("flows.txt:6: expected 'tcp|udp|sctp CLIENT_IP:PORT VIP:PORT', got 2 fields", lines[3], StringComparison.Ordinal);
        Assert.StartsWith("flows.txt:7: bad client endpoint '2001:db8::7:1'", lines[4], StringComparison.Ordinal);
    }

    [Fact]
    public void TryParse_BadLine_KeepsTheGoodFlows()
    {
        bool ok = SimulatedFlowFile.TryParse("tcp 192.0.2.7:40000 10.0.0.100:80\nbogus\n", "f", out var flows, out var errors);

        Assert.False(ok);
        Assert.Single(flows);
        Assert.Equal("f:2: expected 'tcp|udp|sctp CLIENT_IP:PORT VIP:PORT', got 1 field", Assert.Single(errors).ToString());
    }

    [Fact]
    public void Load_ReadsTheFileAndNamesItInErrors()
    {
        string path = Path.Combine(Path.GetTempPath(), $"flows-{Guid.NewGuid():N}.txt");
        File.WriteAllText(path, "tcp 192.0.2.7:40000 10.0.0.100:80\ntcp 192.0.2.7:0 10.0.0.100:80\n");
        try
        {
            var error = Assert.Throws<ConfigurationException>(() => SimulatedFlowFile.Load(path));
            Assert.Equal($"{path}:2: client endpoint '192.0.2.7:0' has port 0", error.Message);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
