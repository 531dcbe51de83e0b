using System.Collections.Frozen;
using Lvs.Core;

namespace Lvs.Director;

/// <summary>
/// One consistent, immutable state of the <see cref="ServiceTable"/>: what a packet thread reads with one volatile
/// read. It finds the service of a new flow as the kernel's <c>ip_vs_service_find</c> does, and maps a connection's
/// real-server index back to its server and service.
/// </summary>
public sealed class ServiceTableSnapshot
{
    private readonly FrozenDictionary<(L4Protocol Protocol, InetEndpoint Endpoint), VirtualService> _byAddress;
    private readonly FrozenDictionary<(uint Mark, bool IPv6), VirtualService> _byMark;
    private readonly InetAddress[] _virtualAddresses;
    private readonly FrozenSet<InetAddress>? _virtualAddressSet;
    private readonly bool _hasPortZero;

    internal ServiceTableSnapshot(long version, VirtualService[] services, ServerEntry[] servers)
    {
        Version = version;
        Services = services;
        Servers = servers;
        var byAddress = new Dictionary<(L4Protocol, InetEndpoint), VirtualService>();
        var byMark = new Dictionary<(uint, bool), VirtualService>();
        var addresses = new HashSet<InetAddress>();
        foreach (var service in services)
        {
            var key = service.Key;
            if (key.IsFirewallMark)
            {
                byMark[(key.FirewallMark, key.IsIPv6)] = service;
                continue;
            }

            byAddress[(key.Protocol, key.Endpoint)] = service;
            _ = addresses.Add(key.Endpoint.Address);
            _hasPortZero |= key.Endpoint.Port == 0;
        }

        _byAddress = byAddress.ToFrozenDictionary();
        _byMark = byMark.ToFrozenDictionary();
        _virtualAddresses = [.. addresses];
        _virtualAddressSet = _virtualAddresses.Length > LinearScanLimit ? addresses.ToFrozenSet() : null;
    }

    /// <summary>
    /// Up to this many virtual addresses, <see cref="IsVirtualAddress"/> compares them one by one (faster than hashing
    /// for a few); beyond, it looks the address up in a hashed set, so that a director with hundreds of addresses does
    /// not compare each frame with all of them.
    /// </summary>
    internal const int LinearScanLimit = 8;

    /// <summary>The empty table.</summary>
    public static ServiceTableSnapshot Empty { get; } = new(0, [], []);

    /// <summary>Increases with every change.</summary>
    public long Version { get; }

    /// <summary>The services, in the order they were added.</summary>
    public IReadOnlyList<VirtualService> Services { get; }

    /// <summary>The virtual addresses of the address-and-port services (the addresses the director owns for them).</summary>
    public ReadOnlySpan<InetAddress> VirtualAddresses => _virtualAddresses;

    /// <summary>Every real server the table created, by registry index (deleted ones too: their connections may live on).</summary>
    internal ServerEntry[] Servers { get; }

    /// <summary>
    /// Finds the service a new packet is for: the exact protocol, address and port, else a port-0 ("all ports")
    /// service on the address, as <c>ip_vs_service_find</c>.
    /// </summary>
    /// <param name="protocol">The packet's protocol.</param>
    /// <param name="destination">The packet's destination.</param>
    /// <param name="service">The service.</param>
    /// <returns>True when a service matches.</returns>
    public bool TryFindService(L4Protocol protocol, InetEndpoint destination, out VirtualService service)
    {
        if (_byAddress.TryGetValue((protocol, destination), out service!))
        {
            return true;
        }

        return _hasPortZero && destination.Port != 0 && _byAddress.TryGetValue((protocol, destination with { Port = 0 }), out service!);
    }

    /// <summary>Finds a firewall-mark service (<c>-f</c>).</summary>
    /// <param name="mark">The packet's mark.</param>
    /// <param name="ipv6">The packet's family.</param>
    /// <param name="service">The service.</param>
    /// <returns>True when a service has the mark.</returns>
    public bool TryFindService(uint mark, bool ipv6, out VirtualService service) => _byMark.TryGetValue((mark, ipv6), out service!);

    /// <summary>Finds a service by key.</summary>
    /// <param name="key">The key.</param>
    /// <returns>The service, or null.</returns>
    public VirtualService? Find(VirtualServiceKey key) =>
        key.IsFirewallMark
            ? _byMark.GetValueOrDefault((key.FirewallMark, key.IsIPv6))
            : _byAddress.GetValueOrDefault((key.Protocol, key.Endpoint));

    /// <summary>Whether the address is a virtual address of a service.</summary>
    /// <param name="address">The address.</param>
    /// <returns>True when a service listens on it.</returns>
    public bool IsVirtualAddress(InetAddress address)
    {
        if (_virtualAddressSet is { } set)
        {
            return set.Contains(address);
        }

        foreach (var vip in _virtualAddresses)
        {
            if (vip == address)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>A real server with the options it was last configured with and the service it belongs (or belonged) to.</summary>
    internal readonly record struct ServerEntry(RealServer Server, RealServerOptions Options, int ServiceIndex, VirtualServiceKey Service);
}
