using Lvs.Core;

namespace Lvs.Director.Tests;

/// <summary>The root README's end-to-end example, run as written: the README must show exactly the code below.</summary>
public class ReadmeExampleTests
{
    // Split so that the markers appear once in this file, around the example.
    private const string Begin = "// README example" + ": begin";
    private const string End = "// README example" + ": end";

    [Fact]
    public void Example_ClientSynToTheVip_GoesOutRewrittenForARealServer()
    {
        // README example: begin
        // One virtual service, three real servers behind NAT (ipvsadm -A -t 10.0.0.100:80 -s rr; -a ... -m).
        var table = new ServiceTable();
        var service = VirtualServiceKey.ForAddress(L4Protocol.Tcp, InetEndpoint.Parse("10.0.0.100:80"));
        table.AddService(new VirtualServiceOptions(service) { Scheduler = "rr" });
        foreach (var server in new[] { "10.1.0.11:8080", "10.1.0.12:8080", "10.1.0.13:8080" })
        {
            table.AddRealServer(service, new RealServerOptions(InetEndpoint.Parse(server)) { Method = ForwardingMethod.Nat });
        }

        // Two links, clients on 0 and real servers on 1 (Lvs.Hosting opens real ones: AF_PACKET or TAP), and the
        // servers' MACs (Lvs.Hosting resolves them by ARP).
        DirectorLink[] links =
        [
            new(0, "clients", MacAddress.Parse("02:00:00:00:00:01"), [InetPrefix.Parse("10.0.0.1/24")]),
            new(1, "servers", MacAddress.Parse("02:00:00:00:01:01"), [InetPrefix.Parse("10.1.0.1/24")]),
        ];
        using var engine = new DirectorEngine(table, links);
        for (int i = 1; i <= 3; i++)
        {
            engine.Neighbors.Set(1, InetAddress.Parse($"10.1.0.1{i}"), MacAddress.Parse($"02:00:00:00:02:0{i}"));
        }

        var worker = engine.CreateWorker();

        // One frame in: a client's SYN to the VIP (Ethernet, IPv4, TCP), with headroom before it in the buffer.
        var syn = Convert.FromHexString("020000000001020000000002080045000028000140004006266A0A0000020A0000649C400050000003E8000000005002FAF000140000");
        var buffer = new byte[128 + syn.Length];
        syn.CopyTo(buffer, 128);
        var verdict = worker.Process(buffer, 128, syn.Length, link: 0);

        // One frame out, rewritten in place for the real server the scheduler picked.
        _ = FrameParser.Parse(buffer.AsSpan(verdict.Offset, verdict.Length), out var parsed);
        string result = $"{verdict.Action} on link {verdict.Link}: {parsed.Flow.Source} -> {parsed.Flow.Destination}";
        Console.WriteLine(result); // Transmit on link 1: 10.0.0.2:40000 -> 10.1.0.13:8080
        // README example: end

        Assert.Equal("Transmit on link 1: 10.0.0.2:40000 -> 10.1.0.13:8080", result);
        Assert.Equal(MacAddress.Parse("02:00:00:00:02:03"), MacAddress.Read(buffer.AsSpan(verdict.Offset, 6)));
        Assert.True(Checksum.IsValid(buffer.AsSpan(verdict.Offset + 14, 20)));
    }

    [Fact]
    public void Readme_ShowsTheExampleAsThisTestRunsIt()
    {
        var root = AppContext.BaseDirectory;
        while (!File.Exists(Path.Combine(root, "Lvs.Core.sln")))
        {
            root = Path.GetDirectoryName(root) ?? throw new InvalidOperationException("the repository root (Lvs.Core.sln) is not above the test's directory");
        }

        var source = File.ReadAllText(Path.Combine(root, "tests", "Lvs.Director.Tests", "ReadmeExampleTests.cs"));
        int begin = source.IndexOf(Begin, StringComparison.Ordinal);
        begin = source.IndexOf('\n', begin) + 1;
        int end = source.LastIndexOf('\n', source.IndexOf(End, StringComparison.Ordinal)) + 1;
        var lines = source[begin..end].Split('\n').Select(line => line.Length >= 8 ? line[8..] : line.TrimStart());
        var example = string.Join('\n', lines).TrimEnd();
        Assert.Contains("worker.Process(buffer, 128, syn.Length, link: 0)", example, StringComparison.Ordinal);
        var readme = File.ReadAllText(Path.Combine(root, "README.md")).Replace("\r\n", "\n", StringComparison.Ordinal);
        Assert.Contains(example, readme, StringComparison.Ordinal);
    }
}
