using System.Collections.Concurrent;
using Lvs.Core;

namespace Lvs.Director;

/// <summary>
/// The director's neighbours: IP address to MAC address per link (the kernel's ARP and NDP cache, <c>neigh_table</c>).
/// The engine reads it per frame without locking, learns from ARP and neighbour advertisements addressed to the
/// director, and asks for a resolution (a <see cref="FrameAction.ResolveNeighbor"/> verdict) when it lacks an entry;
/// the device layer (or a test) resolves and calls <see cref="Set"/>.
/// </summary>
public sealed class NeighborTable
{
    private readonly ConcurrentDictionary<(int Link, InetAddress Address), NeighborEntry> _entries = new();
    private readonly TimeProvider _time;

    /// <summary>Creates an empty table.</summary>
    /// <param name="timeProvider">The clock of <see cref="NeighborEntry.Updated"/>.</param>
    public NeighborTable(TimeProvider? timeProvider = null) => _time = timeProvider ?? TimeProvider.System;

    /// <summary>The number of entries (resolved or not).</summary>
    public int Count => _entries.Count;

    /// <summary>Gets the entry of a neighbour, creating an unresolved one (the engine keeps it to read its MAC per frame).</summary>
    /// <param name="link">The link.</param>
    /// <param name="address">The neighbour's address.</param>
    /// <returns>The entry.</returns>
    public NeighborEntry GetOrAdd(int link, InetAddress address) =>
        _entries.GetOrAdd((link, address), static key => new NeighborEntry(key.Link, key.Address));

    /// <summary>Looks a neighbour up.</summary>
    /// <param name="link">The link.</param>
    /// <param name="address">The neighbour's address.</param>
    /// <param name="mac">Its MAC address when resolved.</param>
    /// <returns>True when resolved.</returns>
    public bool TryGet(int link, InetAddress address, out MacAddress mac)
    {
        if (_entries.TryGetValue((link, address), out var entry) && entry.TryGetMac(out mac))
        {
            return true;
        }

        mac = default;
        return false;
    }

    /// <summary>Sets (or learns) a neighbour's MAC address.</summary>
    /// <param name="link">The link.</param>
    /// <param name="address">The neighbour's address.</param>
    /// <param name="mac">Its MAC address.</param>
    public void Set(int link, InetAddress address, MacAddress mac) => GetOrAdd(link, address).Resolve(mac, _time.GetUtcNow());

    /// <summary>Updates a neighbour only if it already has an entry (what a host does with an ARP packet it did not ask for, RFC 826's merge step).</summary>
    /// <param name="link">The link.</param>
    /// <param name="address">The neighbour's address.</param>
    /// <param name="mac">Its MAC address.</param>
    /// <returns>True when an entry was updated.</returns>
    public bool Refresh(int link, InetAddress address, MacAddress mac)
    {
        if (_entries.TryGetValue((link, address), out var entry))
        {
            entry.Resolve(mac, _time.GetUtcNow());
            return true;
        }

        return false;
    }

    /// <summary>Forgets a neighbour's MAC address (the entry stays, unresolved).</summary>
    /// <param name="link">The link.</param>
    /// <param name="address">The neighbour's address.</param>
    public void Invalidate(int link, InetAddress address)
    {
        if (_entries.TryGetValue((link, address), out var entry))
        {
            entry.Invalidate();
        }
    }

    /// <summary>Every entry, for listings and for the device layer's resolution and expiry.</summary>
    public IEnumerable<NeighborEntry> Entries => _entries.Values;
}

/// <summary>One neighbour: its link, address and (once resolved) MAC address, read lock-free per frame.</summary>
public sealed class NeighborEntry
{
    private const ulong ResolvedBit = 1UL << 63;
    private ulong _mac;
    private long _updatedTicks;

    internal NeighborEntry(int link, InetAddress address)
    {
        Link = link;
        Address = address;
    }

    /// <summary>The link.</summary>
    public int Link { get; }

    /// <summary>The neighbour's address.</summary>
    public InetAddress Address { get; }

    /// <summary>Whether the MAC address is known.</summary>
    public bool IsResolved => (Volatile.Read(ref _mac) & ResolvedBit) != 0;

    /// <summary>When the MAC address was last set or confirmed.</summary>
    public DateTimeOffset Updated => new(Volatile.Read(ref _updatedTicks), TimeSpan.Zero);

    /// <summary>Reads the MAC address.</summary>
    /// <param name="mac">The MAC address when resolved.</param>
    /// <returns>True when resolved.</returns>
    public bool TryGetMac(out MacAddress mac)
    {
        ulong value = Volatile.Read(ref _mac);
        mac = new MacAddress(value);
        return (value & ResolvedBit) != 0;
    }

    internal void Resolve(MacAddress mac, DateTimeOffset now)
    {
        Volatile.Write(ref _updatedTicks, now.UtcTicks);
        Volatile.Write(ref _mac, mac.Value | ResolvedBit);
    }

    internal void Invalidate() => Volatile.Write(ref _mac, 0);

    /// <inheritdoc />
    public override string ToString() => TryGetMac(out var mac) ? $"{Address} lladdr {mac} (link {Link})" : $"{Address} INCOMPLETE (link {Link})";
}
