using System.Net;
using System.Net.Sockets;
using System.Text;
using Lvs.IntegrationTests.Lab;

namespace Lvs.IntegrationTests;

/// <summary>
/// UDP through the real <c>lvs-director</c> with the kernels' UDP on the client and the real servers: each query from a
/// new client port is a new connection (wrr 1:2:3 over 60 of them), and its answer reaches the client's connected
/// socket from the VIP's port 53, which it would drop from any other address or port (NAT and FULLNAT rewrite the
/// answer; DR and TUN servers send it from the VIP themselves).
/// </summary>
public class UdpTests
{
    [Theory]
    [InlineData(LabMethod.Nat)]
    [InlineData(LabMethod.FullNat)]
    [InlineData(LabMethod.DirectRouting)]
    [InlineData(LabMethod.Tunnel)]
    public async Task Director_CarriesKernelUdpThroughMethod(LabMethod method)
    {
        Prerequisites.Require();
        var cancellation = TestContext.Current.CancellationToken;
        await using var lab = LoadBalancerLab.Create(method);
        var agents = await TunnelAgents.StartAsync(lab);

        // Each server answers a query with its name, from the address the query was sent to: its own behind NAT and
        // FULLNAT, the VIP (its lo's) for DR and TUN.
        bool twoSubnets = method is LabMethod.Nat or LabMethod.FullNat;
        var responders = lab.Servers.Select((server, i) => new UdpResponder(server, twoSubnets ? lab.ServerAddress(i) : LoadBalancerLab.Vip, $"rs{i + 1}")).ToList();
        string conf = Path.Combine(Path.GetTempPath(), $"{lab.Network.Prefix}-udp-keepalived.conf");
        string lvsMethod = method switch
        {
            LabMethod.Nat => "NAT",
            LabMethod.FullNat => "FNAT",
            LabMethod.DirectRouting => "DR",
            _ => "TUN",
        };
        File.WriteAllText(conf, $$"""
            virtual_server {{LoadBalancerLab.Vip}} 53 {
                lvs_sched wrr
                lvs_method {{lvsMethod}}
                protocol UDP
                real_server {{lab.ServerAddress(0)}} 53 {
                    weight 1
                }
                real_server {{lab.ServerAddress(1)}} 53 {
                    weight 2
                }
                real_server {{lab.ServerAddress(2)}} 53 {
                    weight 3
                }
            }
            """);
        try
        {
            List<string> arguments = ["run", "--keepalived", conf, .. lab.LinkArguments()];
            if (method == LabMethod.FullNat)
            {
                arguments.AddRange(["--local-address", LoadBalancerLab.LocalAddress]);
            }

            using var director = SampleProgram.Start(lab.Network, lab.Director, "lvs-director", [.. arguments]);

            // Until the director answers (it starts meanwhile), then 60 queries from new ports.
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
            while (Query(lab) is null)
            {
                Assert.True(DateTime.UtcNow < deadline, $"no answer in 30 s. Director output:\n{director.Output}");
                await Task.Delay(200, cancellation);
            }

            var counts = new Dictionary<string, int> { ["rs1"] = 0, ["rs2"] = 0, ["rs3"] = 0 };
            for (int i = 0; i < 60; i++)
            {
                string? name = Query(lab);
                Assert.True(name is not null, $"query {i} got no answer. Director output:\n{director.Output}");
                counts[name]++;
            }

            // The first query's connection went to one server before these 60; wrr's next 60 picks are still 10, 20, 30.
            Assert.Equal(new Dictionary<string, int> { ["rs1"] = 10, ["rs2"] = 20, ["rs3"] = 30 }, counts);
            Assert.Equal(0, director.Stop(TimeSpan.FromSeconds(20)));
        }
        finally
        {
            foreach (var responder in responders)
            {
                responder.Dispose();
            }

            foreach (var agent in agents)
            {
                agent.Dispose();
            }

            File.Delete(conf);
        }
    }

    /// <summary>One query from a new client port to VIP:53 on a connected socket; the answer, or null after 1 s.</summary>
    private static string? Query(LoadBalancerLab lab)
    {
        using var socket = lab.Client.CreateSocket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(IPAddress.Any, lab.Client.NextClientPort()));
        socket.Connect(new IPEndPoint(IPAddress.Parse(LoadBalancerLab.Vip), 53));
        socket.ReceiveTimeout = 1000;
        _ = socket.Send("who"u8);
        var answer = new byte[64];
        try
        {
            int length = socket.Receive(answer);
            return Encoding.ASCII.GetString(answer, 0, length);
        }
        catch (SocketException e) when (e.SocketErrorCode is SocketError.TimedOut or SocketError.ConnectionRefused)
        {
            return null;
        }
    }

    /// <summary>A UDP socket in a server's namespace bound to one address's port 53, answering every datagram with the server's name.</summary>
    private sealed class UdpResponder : IDisposable
    {
        private readonly Socket _socket;
        private readonly Thread _thread;

        public UdpResponder(NetNamespace ns, string address, string name)
        {
            _socket = ns.CreateSocket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            _socket.Bind(new IPEndPoint(IPAddress.Parse(address), 53));
            byte[] reply = Encoding.ASCII.GetBytes(name);
            _thread = new Thread(() =>
            {
                var buffer = new byte[512];
                EndPoint from = new IPEndPoint(IPAddress.Any, 0);
                try
                {
                    while (true)
                    {
                        _ = _socket.ReceiveFrom(buffer, ref from);
                        _ = _socket.SendTo(reply, from);
                    }
                }
                catch (Exception e) when (e is SocketException or ObjectDisposedException)
                {
                    // Closed: the test is over.
                }
            })
            { IsBackground = true };
            _thread.Start();
        }

        public void Dispose()
        {
            _socket.Dispose();
            _ = _thread.Join(TimeSpan.FromSeconds(5));
        }
    }
}
