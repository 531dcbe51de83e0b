using System.Net;
using System.Net.Sockets;
using System.Text;
using Lvs.IntegrationTests.Lab;

namespace Lvs.IntegrationTests;

/// <summary>
/// UDP through the real <c>lvs-director</c> with the kernels' UDP on the client and the real servers, over IPv4 and
/// IPv6: each query from a
/// new client port is a new connection (wrr 1:2:3 over 60 of them), and its answer reaches the client's connected
/// socket from the VIP's port 53, which it would drop from any other address or port (NAT and FULLNAT rewrite the
/// answer; DR and TUN servers send it from the VIP themselves).
/// </summary>
public class UdpTests
{
    [Theory]
    [InlineData(LabMethod.Nat, false)]
    [InlineData(LabMethod.FullNat, false)]
    [InlineData(LabMethod.DirectRouting, false)]
    [InlineData(LabMethod.Tunnel, false)]
    [InlineData(LabMethod.Nat, true)]
    [InlineData(LabMethod.FullNat, true)]
    [InlineData(LabMethod.DirectRouting, true)]
    [InlineData(LabMethod.Tunnel, true)]
    public async Task Director_CarriesKernelUdpThroughMethod(LabMethod method, bool ipv6)
    {
        Prerequisites.Require();
        var cancellation = TestContext.Current.CancellationToken;
        await using var lab = LoadBalancerLab.Create(method);
        if (ipv6)
        {
            lab.AddIPv6();
        }

        string vip = ipv6 ? LoadBalancerLab.Vip6 : LoadBalancerLab.Vip;
        string ServerAddress(int i) => ipv6 ? lab.ServerAddress6(i) : lab.ServerAddress(i);
        var agents = await TunnelAgents.StartAsync(lab);

        // Each server answers a query with its name, from the address the query was sent to: its own behind NAT and
        // FULLNAT, the VIP (its lo's) for DR and TUN.
        bool twoSubnets = method is LabMethod.Nat or LabMethod.FullNat;
        var responders = lab.Servers.Select((server, i) => new UdpResponder(server, twoSubnets ? ServerAddress(i) : vip, $"rs{i + 1}")).ToList();
        string conf = Path.Combine(Path.GetTempPath(), $"{lab.Network.Prefix}-udp-keepalived.conf");
        string lvsMethod = method switch
        {
            LabMethod.Nat => "NAT",
            LabMethod.FullNat => "FNAT",
            LabMethod.DirectRouting => "DR",
            _ => "TUN",
        };
        File.WriteAllText(conf, $$"""
            virtual_server {{vip}} 53 {
                lvs_sched wrr
                lvs_method {{lvsMethod}}
                protocol UDP
                real_server {{ServerAddress(0)}} 53 {
                    weight 1
                }
                real_server {{ServerAddress(1)}} 53 {
                    weight 2
                }
                real_server {{ServerAddress(2)}} 53 {
                    weight 3
                }
            }
            """);
        try
        {
            List<string> arguments = ["run", "--keepalived", conf, .. lab.LinkArguments()];
            if (method == LabMethod.FullNat)
            {
                arguments.AddRange(["--local-address", ipv6 ? LoadBalancerLab.LocalAddress6 : LoadBalancerLab.LocalAddress]);
            }

            using var director = SampleProgram.Start(lab.Network, lab.Director, "lvs-director", [.. arguments]);

            // Until the director answers (it starts meanwhile), then 60 queries from new ports.
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
            while (Query(lab, vip) is null)
            {
                Assert.True(DateTime.UtcNow < deadline, $"no answer in 30 s. Director output:\n{director.Output}");
                await Task.Delay(200, cancellation);
            }

            var counts = new Dictionary<string, int> { ["rs1"] = 0, ["rs2"] = 0, ["rs3"] = 0 };
            for (int i = 0; i < 60; i++)
            {
                string? name = Query(lab, vip);
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

    /// <summary>
    /// One query from a new client port to VIP:53 on a connected socket, sent up to three times a second apart from the
    /// same port, as a resolver does (UDP retransmits nothing itself, and a server's first answer to the client can be
    /// lost while its kernel resolves the client's address: seen about once in ten IPv6 TUN runs, the query having
    /// reached the server); the same port is the same connection, so a retry is never scheduled again. The answer, or
    /// null.
    /// </summary>
    private static string? Query(LoadBalancerLab lab, string vip)
    {
        var address = IPAddress.Parse(vip);
        using var socket = lab.Client.CreateSocket(address.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(address.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any, lab.Client.NextClientPort()));
        socket.Connect(new IPEndPoint(address, 53));
        socket.ReceiveTimeout = 1000;
        var answer = new byte[64];
        for (int attempt = 0; attempt < 3; attempt++)
        {
            _ = socket.Send("who"u8);
            try
            {
                int length = socket.Receive(answer);
                return Encoding.ASCII.GetString(answer, 0, length);
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.TimedOut)
            {
                // Sent again from the same port.
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionRefused)
            {
                // The director's port unreachable while it starts: no service yet.
                return null;
            }
        }

        return null;
    }

    /// <summary>A UDP socket in a server's namespace bound to one address's port 53, answering every datagram with the server's name.</summary>
    private sealed class UdpResponder : IDisposable
    {
        private readonly Socket _socket;
        private readonly Thread _thread;

        public UdpResponder(NetNamespace ns, string address, string name)
        {
            var ip = IPAddress.Parse(address);
            _socket = ns.CreateSocket(ip.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
            _socket.Bind(new IPEndPoint(ip, 53));
            byte[] reply = Encoding.ASCII.GetBytes(name);
            _thread = new Thread(() =>
            {
                var buffer = new byte[512];
                EndPoint from = new IPEndPoint(ip.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any, 0);
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
