using System.CommandLine;
using System.Runtime.InteropServices;
using Lvs.Devices;
using Lvs.Forwarding;
using Lvs.Samples.TunnelAgent;

// lvs-tunnel-agent: for a TUN-mode real server whose kernel has no ipip/gre/fou module. See docs/devices.md.
var interfaceOption = new Option<string>("--interface") { Description = "The interface the director's tunnel frames arrive on.", Required = true };
var tunOption = new Option<string>("--tun") { Description = "The TUN device to create for the inner packets.", DefaultValueFactory = _ => "lvstun0" };
var guePortOption = new Option<ushort>("--gue-port") { Description = "The UDP port GUE arrives on (the director's --tun-port); 0 refuses GUE." };
var noIpIpOption = new Option<bool>("--no-ipip") { Description = "Refuse IPIP (IP protocols 4 and 41)." };
var noGreOption = new Option<bool>("--no-gre") { Description = "Refuse GRE (IP protocol 47)." };
var keepOffloadsOption = new Option<bool>("--keep-offloads") { Description = "Leave GRO/LRO on the interface as they are (by default they are off while the agent runs)." };

var root = new RootCommand("Receives IPIP, GRE and GUE frames from an LVS director and hands the inner packets to the local kernel through a TUN device.")
{
    interfaceOption, tunOption, guePortOption, noIpIpOption, noGreOption, keepOffloadsOption,
};

root.SetAction(result =>
{
    string interfaceName = result.GetValue(interfaceOption)!;
    string tunName = result.GetValue(tunOption)!;
    var options = new TunnelDecapsulatorOptions
    {
        AcceptIpIp = !result.GetValue(noIpIpOption),
        AcceptGre = !result.GetValue(noGreOption),
        GuePort = result.GetValue(guePortOption),
    };

    using var stop = new CancellationTokenSource();
    using PosixSignalRegistration onInterrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, context => { context.Cancel = true; stop.Cancel(); });
    using PosixSignalRegistration onTerminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context => { context.Cancel = true; stop.Cancel(); });

    using var link = new AfPacketLink(interfaceName, new AfPacketLinkOptions { DisableReceiveOffloads = !result.GetValue(keepOffloadsOption) });
    using var tun = new TunDevice(tunName, link.Mtu);
    foreach (string warning in tun.AcceptForeignSources())
    {
        Console.Error.WriteLine($"warning: {warning}");
    }

    // A kernel with the ipip, gre or fou modules takes tunnel packets in; this one gives them to the agent through
    // AF_PACKET, and its stack, with no handler, would answer each with a protocol (or, for GUE, a port) unreachable,
    // which a director relays to the client as the kernel's does. Claiming the protocols as those modules would keeps
    // the stack quiet: a raw socket per protocol and the GUE port's UDP socket, never read.
    using var claims = new TunnelClaims(options);
    var agent = new TunnelAgent(link, tun, options);
    Console.WriteLine($"lvs-tunnel-agent: {interfaceName} ({link.Mac}, {string.Join(", ", link.Addresses)}) -> {tunName}; IPIP {(options.AcceptIpIp ? "on" : "off")}, GRE {(options.AcceptGre ? "on" : "off")}, GUE port {options.GuePort}");
    agent.Run(stop.Token);

    Console.WriteLine($"lvs-tunnel-agent: stopped; {agent.Delivered} packets delivered, {agent.WriteFailures} refused by {tunName}");
    foreach ((Lvs.Core.DropReason reason, long count) in agent.Dropped())
    {
        Console.WriteLine($"  dropped {count}: {reason}");
    }

    return 0;
});

return root.Parse(args).Invoke();
