namespace Lvs.Samples.Director.Lab;

/// <summary>The forwarding method a lab is wired for.</summary>
public enum LabMethod
{
    /// <summary>NAT: client and real servers on two subnets, the real servers' default route through the director.</summary>
    Nat,

    /// <summary>FULLNAT: as NAT, but the real servers have no route back to the client (the director's local address is on their subnet).</summary>
    FullNat,

    /// <summary>Direct routing: one segment; the real servers hold the VIP on lo and answer the client directly.</summary>
    DirectRouting,

    /// <summary>Tunnelling: one segment; the real servers run lvs-tunnel-agent and answer the client directly.</summary>
    Tunnel,
}

/// <summary>
/// The integration tests' topology: a client namespace, a director namespace and three real servers with an HTTP
/// responder each, wired for one forwarding method, on veth pairs and a bridge in a switch namespace.
/// </summary>
/// <remarks>
/// NAT and FULLNAT: client 10.0.0.2/24 (default via 10.0.0.1) - director c0 10.0.0.1/24 | director s0 10.1.0.1/24 -
/// bridge - rs1..rs3 10.1.0.11-13/24 (NAT: default via 10.1.0.1). DR and TUN: client 10.0.0.2, director 10.0.0.1 (eth0)
/// and rs1..rs3 10.0.0.11-13 on one bridge, the VIP on the real servers' lo with arp_ignore 1 and arp_announce 2.
/// The VIP is 10.0.0.100, port 80; FULLNAT's local address is 10.1.0.100.
/// </remarks>
public sealed class LoadBalancerLab : IAsyncDisposable
{
    /// <summary>The virtual IP address.</summary>
    public const string Vip = "10.0.0.100";

    /// <summary>FULLNAT's local address.</summary>
    public const string LocalAddress = "10.1.0.100";

    /// <summary>The director's FULLNAT local address on the servers' segment for IPv6 (<see cref="AddIPv6"/>).</summary>
    public const string LocalAddress6 = "fd01::100";

    /// <summary>The IPv6 virtual address (<see cref="AddIPv6"/>).</summary>
    public const string Vip6 = "fd00::100";

    private readonly List<HttpResponder?> _responders = [];

    private LoadBalancerLab(LabMethod method, bool tap, NetworkLab network)
    {
        Method = method;
        Network = network;
        Client = Network.AddNamespace("client");
        Director = Network.AddNamespace("director");
        Switch = Network.AddNamespace("sw");
        Servers = [Network.AddNamespace("rs1"), Network.AddNamespace("rs2"), Network.AddNamespace("rs3")];
        NetworkLab.AddBridge(Switch, "br0");
        bool twoSubnets = method is LabMethod.Nat or LabMethod.FullNat;
        Tap = tap;
        if (tap)
        {
            // The director owns TAP devices (created when it starts) that the test attaches to bridges in its
            // namespace; the kernel there has its own address on the servers' side for the health checks only.
            if (twoSubnets)
            {
                NetworkLab.AddBridge(Director, "brc");
                NetworkLab.AddBridge(Director, "brs");
                NetworkLab.Connect(Client, "eth0", Director, "c0");
                Director.Ip("link", "set", "c0", "master", "brc");
                NetworkLab.Plug(Director, "s0", Switch, "br0", "pd");
                Director.Ip("link", "set", "s0", "master", "brs");
                Director.Ip("addr", "add", "10.1.0.254/24", "dev", "brs");
                Taps = [("tapc", "10.0.0.1/24", "brc"), ("taps", "10.1.0.1/24", "brs")];
            }
            else
            {
                NetworkLab.AddBridge(Director, "brx");
                NetworkLab.Plug(Director, "s0", Switch, "br0", "pd");
                Director.Ip("link", "set", "s0", "master", "brx");
                Director.Ip("addr", "add", "10.0.0.254/24", "dev", "brx");
                NetworkLab.Plug(Client, "eth0", Switch, "br0", "pc");
                Taps = [("tap0", "10.0.0.1/24", "brx")];
            }

            DirectorInterfaces = [];
        }
        else if (twoSubnets)
        {
            NetworkLab.Connect(Client, "eth0", Director, "c0");
            Director.Ip("addr", "add", "10.0.0.1/24", "dev", "c0");
            NetworkLab.Plug(Director, "s0", Switch, "br0", "pd");
            Director.Ip("addr", "add", "10.1.0.1/24", "dev", "s0");
            DirectorInterfaces = ["c0", "s0"];
        }
        else
        {
            NetworkLab.Plug(Client, "eth0", Switch, "br0", "pc");
            NetworkLab.Plug(Director, "eth0", Switch, "br0", "pd");
            Director.Ip("addr", "add", "10.0.0.1/24", "dev", "eth0");
            DirectorInterfaces = ["eth0"];
        }

        // veth hands a local stack's TSO/GSO super-frames to the peer unsegmented; a director on AF_PACKET drops them
        // (docs/devices.md, Offloads), as a wire never carries them. Senders segment here, checksum offload stays on.
        NoSegmentationOffload(Client, "eth0");
        Client.Ip("addr", "add", "10.0.0.2/24", "dev", "eth0");
        if (twoSubnets)
        {
            Client.Ip("route", "add", "default", "via", "10.0.0.1");
        }

        for (int i = 0; i < Servers.Length; i++)
        {
            var server = Servers[i];
            NetworkLab.Plug(server, "eth0", Switch, "br0", $"p{i + 1}");
            NoSegmentationOffload(server, "eth0");
            server.Ip("addr", "add", $"{ServerAddress(i)}/24", "dev", "eth0");
            if (method == LabMethod.Nat)
            {
                server.Ip("route", "add", "default", "via", "10.1.0.1");
            }
            else if (!twoSubnets)
            {
                // The VIP is the real server's own, but it must not answer ARP for it (the director does).
                server.Ip("addr", "add", $"{Vip}/32", "dev", "lo");
                server.Sysctl("net.ipv4.conf.all.arp_ignore=1");
                server.Sysctl("net.ipv4.conf.all.arp_announce=2");
                server.Sysctl("net.ipv4.conf.eth0.arp_ignore=1");
                server.Sysctl("net.ipv4.conf.eth0.arp_announce=2");
            }

            _responders.Add(new HttpResponder(server, $"rs{i + 1}", 80));
        }
    }

    /// <summary>Turns TCP segmentation and generic segmentation offload off on an interface (ethtool -K).</summary>
    /// <param name="ns">The namespace.</param>
    /// <param name="name">The interface.</param>
    public static void NoSegmentationOffload(NetNamespace ns, string name) => ns.Exec("ethtool", "-K", name, "tso", "off", "gso", "off");

    /// <summary>The method the lab is wired for.</summary>
    public LabMethod Method { get; }

    /// <summary>The namespaces and processes.</summary>
    public NetworkLab Network { get; }

    /// <summary>The client's namespace.</summary>
    public NetNamespace Client { get; }

    /// <summary>The director's namespace.</summary>
    public NetNamespace Director { get; }

    /// <summary>The switch's namespace (bridge br0).</summary>
    public NetNamespace Switch { get; }

    /// <summary>The real servers' namespaces.</summary>
    public NetNamespace[] Servers { get; }

    /// <summary>The director's interfaces (for <c>--interface</c>); none when it runs on TAP devices.</summary>
    public IReadOnlyList<string> DirectorInterfaces { get; }

    /// <summary>Whether the director runs on TAP devices.</summary>
    public bool Tap { get; }

    /// <summary>The TAP devices the director creates (<c>--tap NAME=ADDRESS/PREFIX</c>) and the bridge each joins.</summary>
    public IReadOnlyList<(string Name, string Address, string Bridge)> Taps { get; } = [];

    /// <summary>The director's link options: <c>--interface NAME</c> or <c>--tap NAME=ADDRESS/PREFIX</c> for each link.</summary>
    public IEnumerable<string> LinkArguments() =>
        Tap ? Taps.SelectMany(t => new[] { "--tap", $"{t.Name}={t.Address}" }) : DirectorInterfaces.SelectMany(name => new[] { "--interface", name });

    /// <summary>Once the director has created its TAP devices, attaches each to its bridge.</summary>
    /// <param name="timeout">The longest wait for the devices.</param>
    /// <returns>A task.</returns>
    public async Task AttachTapsAsync(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        foreach (var (name, _, bridge) in Taps)
        {
            while (Shell.TryRun("ip", "-n", Director.Name, "link", "show", name).Status != 0)
            {
                if (DateTime.UtcNow > deadline)
                {
                    throw new TimeoutException($"the director did not create {name} within {timeout}");
                }

                await Task.Delay(100);
            }

            Director.Ip("link", "set", name, "master", bridge);
            Director.Ip("link", "set", name, "up");
        }
    }

    /// <summary>The VIP and port as the client asks them.</summary>
    public static string Service => $"{Vip}:80";

    /// <summary>Creates the lab.</summary>
    /// <param name="method">The method.</param>
    /// <returns>The lab, every responder listening.</returns>
    /// <param name="tap">Whether the director runs on TAP devices instead of AF_PACKET on veth interfaces.</param>
    public static LoadBalancerLab Create(LabMethod method, bool tap = false)
    {
        var network = new NetworkLab();
        try
        {
            return new LoadBalancerLab(method, tap, network);
        }
        catch
        {
            // A set-up step failed: remove what was made so far.
            network.Dispose();
            throw;
        }
    }

    /// <summary>The address of real server <paramref name="index"/> (0-2).</summary>
    /// <param name="index">The server.</param>
    /// <returns>Its address.</returns>
    public string ServerAddress(int index) => Method is LabMethod.Nat or LabMethod.FullNat ? $"10.1.0.{11 + index}" : $"10.0.0.{11 + index}";

    /// <summary>The IPv6 address of real server <paramref name="index"/> (0-2), after <see cref="AddIPv6"/>.</summary>
    /// <param name="index">The server.</param>
    /// <returns>Its address: fd01::11-13 behind a NAT or FULLNAT director, fd00::11-13 on the client's segment for DR and TUN.</returns>
    public string ServerAddress6(int index) => Method is LabMethod.Nat or LabMethod.FullNat ? $"fd01::{11 + index}" : $"fd00::{11 + index}";

    /// <summary>The IPv6 service, <c>[fd00::100]:80</c>.</summary>
    public static string Service6 => $"[{Vip6}]:80";

    /// <summary>
    /// Adds IPv6 beside IPv4 to a lab on AF_PACKET, without duplicate address detection so that the addresses are
    /// usable at once. NAT and FULLNAT: client fd00::2/64 (default via fd00::1) - director c0 fd00::1/64 | s0
    /// fd01::1/64 - rs1..rs3 fd01::11-13/64 (NAT: default via fd01::1; FULLNAT: no route, they answer the director's
    /// local address <see cref="LocalAddress6"/> on their segment). DR and TUN: client fd00::2, director fd00::1 and
    /// rs1..rs3 fd00::11-13 on one segment, the VIP on the servers' lo (Linux answers a neighbour solicitation only for
    /// an address of the interface it came in on, so they leave the VIP's to the director; TUN servers receive it
    /// through lvs-tunnel-agent). The director answers for <see cref="Vip6"/>.
    /// </summary>
    /// <exception cref="NotSupportedException">The lab is on TAP devices.</exception>
    public void AddIPv6()
    {
        if (Tap)
        {
            throw new NotSupportedException("The IPv6 lab is on AF_PACKET.");
        }

        bool twoSubnets = Method is LabMethod.Nat or LabMethod.FullNat;
        Client.Ip("addr", "add", "fd00::2/64", "dev", "eth0", "nodad");
        Director.Ip("addr", "add", "fd00::1/64", "dev", twoSubnets ? "c0" : "eth0", "nodad");
        if (twoSubnets)
        {
            Client.Ip("-6", "route", "add", "default", "via", "fd00::1");
            Director.Ip("addr", "add", "fd01::1/64", "dev", "s0", "nodad");
        }

        for (int i = 0; i < Servers.Length; i++)
        {
            Servers[i].Ip("addr", "add", $"{ServerAddress6(i)}/64", "dev", "eth0", "nodad");
            if (Method == LabMethod.Nat)
            {
                Servers[i].Ip("-6", "route", "add", "default", "via", "fd01::1");
            }
            else if (!twoSubnets)
            {
                Servers[i].Ip("addr", "add", $"{Vip6}/128", "dev", "lo");
            }
        }
    }

    /// <summary>The responder of real server <paramref name="index"/>, or null while stopped.</summary>
    /// <param name="index">The server.</param>
    /// <returns>The responder.</returns>
    public HttpResponder? Responder(int index) => _responders[index];

    /// <summary>Stops a real server's HTTP responder (its port refuses connections: a health check fails).</summary>
    /// <param name="index">The server.</param>
    /// <returns>A task.</returns>
    public async Task StopServerAsync(int index)
    {
        if (_responders[index] is { } responder)
        {
            _responders[index] = null;
            await responder.DisposeAsync();
        }
    }

    /// <summary>Starts a real server's HTTP responder again.</summary>
    /// <param name="index">The server.</param>
    public void StartServer(int index) => _responders[index] ??= new HttpResponder(Servers[index], $"rs{index + 1}", 80);

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        foreach (var responder in _responders)
        {
            if (responder is not null)
            {
                await responder.DisposeAsync();
            }
        }

        Network.Dispose();
    }
}
