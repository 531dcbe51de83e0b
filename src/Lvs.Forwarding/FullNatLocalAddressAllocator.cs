using System.Numerics;
using Lvs.Core;

namespace Lvs.Forwarding;

/// <summary>
/// Hands out FULLNAT (local address, local port) pairs towards one real server: a pair is never handed out
/// twice while a connection holds it, and running out is reported (and counted) instead of reusing a pair.
/// </summary>
/// <remarks>
/// <para>
/// Create one allocator per real server (and per transport protocol if TCP and UDP should have separate
/// port spaces): a (local address, port) pair only has to be unique towards one real server endpoint,
/// because the connection 5-tuple (local address, local port, real server address, real server port,
/// protocol) is what the reply is matched by. This is how Alibaba's FULLNAT kernel and DPVS use their
/// local address pools (<c>ip_vs_laddr</c>, <c>dp_vs_laddr</c>).
/// </para>
/// <para>
/// State is one bitmap per local address with one bit per port of the range. <see cref="TryAllocate(out InetEndpoint)"/>
/// starts at a rotating cursor (so consecutive connections spread over the local addresses and a port that
/// was just released is not handed out again at once, which keeps a real server's TIME_WAIT entries from
/// colliding), finds a clear bit in the 64-port word at the cursor and sets it with a compare-and-swap; a
/// word that is full moves the search to the next one. <see cref="Release"/> clears the bit with a
/// compare-and-swap. Both are lock-free and allocate nothing, so packet threads can call them concurrently.
/// A released pair is free again at once (the cursor only delays when it is picked), so the caller releases the
/// pair when the connection ends (when the connection table expires or removes it), and the pool never leaks.
/// </para>
/// <para>
/// <see cref="FullNatPortPolicy.KeepClientPort"/> (<see cref="TryAllocate(InetEndpoint, out InetEndpoint)"/>) keeps
/// the client's port when it is free, as the kernel's NAT does; the default, <see cref="FullNatPortPolicy.Pool"/>,
/// always takes the pool's next pair.
/// </para>
/// </remarks>
public sealed class FullNatLocalAddressAllocator
{
    private const int BitsPerWord = 64;

    private readonly InetAddress[] _addresses;
    private readonly ulong[] _bits;
    private readonly int _wordsPerAddress;
    private readonly int _totalWords;
    private long _cursor;
    private long _inUse;
    private long _exhaustedCount;

    /// <summary>Creates an allocator over the given local addresses and port range.</summary>
    /// <param name="localAddresses">The director-owned local addresses (ipvsadm/keepalived <c>laddr</c>), all of one family, at least one.</param>
    /// <param name="firstPort">The first port of the range (inclusive); the default 1024 skips the well-known ports.</param>
    /// <param name="lastPort">The last port of the range (inclusive).</param>
    /// <param name="portPolicy">How <see cref="TryAllocate(InetEndpoint, out InetEndpoint)"/> picks the port; the default is the pool.</param>
    /// <exception cref="ArgumentException">No address, mixed families, a duplicate address, an empty range, or an unknown policy.</exception>
    public FullNatLocalAddressAllocator(
        IEnumerable<InetAddress> localAddresses, ushort firstPort = 1024, ushort lastPort = 65535, FullNatPortPolicy portPolicy = FullNatPortPolicy.Pool)
    {
        if (portPolicy is not (FullNatPortPolicy.Pool or FullNatPortPolicy.KeepClientPort))
        {
            throw new ArgumentException($"Unknown port policy {portPolicy}.", nameof(portPolicy));
        }

        PortPolicy = portPolicy;
        ArgumentNullException.ThrowIfNull(localAddresses);
        _addresses = [.. localAddresses];
        if (_addresses.Length == 0)
        {
            throw new ArgumentException("At least one local address is needed.", nameof(localAddresses));
        }

        bool ipv4 = _addresses[0].IsIPv4;
        if (_addresses.Any(a => a.IsIPv4 != ipv4))
        {
            throw new ArgumentException("All local addresses must be of one family.", nameof(localAddresses));
        }

        if (_addresses.Distinct().Count() != _addresses.Length)
        {
            throw new ArgumentException("The local addresses must be distinct.", nameof(localAddresses));
        }

        if (firstPort == 0 || lastPort < firstPort)
        {
            throw new ArgumentException($"The port range {firstPort}-{lastPort} is empty or starts at 0.", nameof(firstPort));
        }

        FirstPort = firstPort;
        LastPort = lastPort;
        int ports = lastPort - firstPort + 1;
        _wordsPerAddress = (ports + BitsPerWord - 1) / BitsPerWord;
        _totalWords = _wordsPerAddress * _addresses.Length;
        _bits = new ulong[_totalWords];

        // Bits past the end of the range are set once and never cleared, so they are never handed out.
        int tail = ports % BitsPerWord;
        if (tail != 0)
        {
            ulong padding = ~0UL << tail;
            for (int a = 0; a < _addresses.Length; a++)
            {
                _bits[(a * _wordsPerAddress) + _wordsPerAddress - 1] = padding;
            }
        }
    }

    /// <summary>The local addresses, in the order given.</summary>
    public IReadOnlyList<InetAddress> LocalAddresses => _addresses;

    /// <summary>How <see cref="TryAllocate(InetEndpoint, out InetEndpoint)"/> picks the port.</summary>
    public FullNatPortPolicy PortPolicy { get; }

    /// <summary>The first port of the range (inclusive).</summary>
    public ushort FirstPort { get; }

    /// <summary>The last port of the range (inclusive).</summary>
    public ushort LastPort { get; }

    /// <summary>The number of pairs the allocator can hand out: addresses times ports.</summary>
    public int Capacity => _addresses.Length * (LastPort - FirstPort + 1);

    /// <summary>The number of pairs handed out and not yet released.</summary>
    public int InUse => (int)Interlocked.Read(ref _inUse);

    /// <summary>How many times <see cref="TryAllocate(out InetEndpoint)"/> failed because every pair was in use (a counted drop).</summary>
    public long ExhaustedCount => Interlocked.Read(ref _exhaustedCount);

    /// <summary>Hands out a (local address, port) pair that no live connection holds.</summary>
    /// <param name="local">The pair, when the result is true.</param>
    /// <returns>
    /// False when every pair is in use; <see cref="ExhaustedCount"/> is then incremented, and the new connection is to
    /// be dropped with <see cref="DropReason.LocalAddressesExhausted"/>.
    /// </returns>
    public bool TryAllocate(out InetEndpoint local)
    {
        long start = Interlocked.Increment(ref _cursor) - 1;
        int addressCount = _addresses.Length;

        // The cursor walks address-major within a word index: consecutive calls go to consecutive addresses,
        // then to the next word of ports. A full pass over every word proves exhaustion.
        for (int step = 0; step < _totalWords; step++)
        {
            ulong position = (ulong)(start + step) % (ulong)_totalWords;
            int address = (int)(position % (ulong)addressCount);
            int word = (int)(position / (ulong)addressCount);
            int index = (address * _wordsPerAddress) + word;

            ulong current = Volatile.Read(ref _bits[index]);
            while (current != ulong.MaxValue)
            {
                int bit = BitOperations.TrailingZeroCount(~current);
                ulong updated = current | (1UL << bit);
                ulong seen = Interlocked.CompareExchange(ref _bits[index], updated, current);
                if (seen == current)
                {
                    _ = Interlocked.Increment(ref _inUse);
                    local = new InetEndpoint(_addresses[address], (ushort)(FirstPort + (word * BitsPerWord) + bit));
                    return true;
                }

                current = seen;
            }
        }

        _ = Interlocked.Increment(ref _exhaustedCount);
        local = default;
        return false;
    }

    /// <summary>Hands out a (local address, port) pair for a new connection from <paramref name="client"/>, following <see cref="PortPolicy"/>.</summary>
    /// <param name="client">The client's address and port (the connection's source before translation).</param>
    /// <param name="local">The pair, when the result is true.</param>
    /// <returns>False when every pair is in use, as <see cref="TryAllocate(out InetEndpoint)"/>.</returns>
    /// <remarks>
    /// With <see cref="FullNatPortPolicy.KeepClientPort"/>, the client's port is kept when it lies in the range and is
    /// free on the local address chosen for the client (a hash of its address, so one client keeps to one local
    /// address), as the kernel's NAT keeps the source port of a tuple it can leave unique (nf_nat <c>get_unique_tuple</c>);
    /// otherwise, and with <see cref="FullNatPortPolicy.Pool"/>, the pair comes from the pool.
    /// </remarks>
    public bool TryAllocate(InetEndpoint client, out InetEndpoint local)
    {
        if (PortPolicy == FullNatPortPolicy.KeepClientPort && client.Port >= FirstPort && client.Port <= LastPort)
        {
            int address = AddressFor(client.Address);
            int offset = client.Port - FirstPort;
            int index = (address * _wordsPerAddress) + (offset / BitsPerWord);
            ulong mask = 1UL << (offset % BitsPerWord);
            ulong current = Volatile.Read(ref _bits[index]);
            while ((current & mask) == 0)
            {
                ulong seen = Interlocked.CompareExchange(ref _bits[index], current | mask, current);
                if (seen == current)
                {
                    _ = Interlocked.Increment(ref _inUse);
                    local = new InetEndpoint(_addresses[address], client.Port);
                    return true;
                }

                current = seen;
            }
        }

        return TryAllocate(out local);
    }

    /// <summary>Returns a pair to the pool once its connection has ended.</summary>
    /// <param name="local">A pair handed out by <see cref="TryAllocate(out InetEndpoint)"/>.</param>
    /// <returns>False when the pair is not one of this allocator's or was not in use (nothing changes).</returns>
    public bool Release(InetEndpoint local)
    {
        if (!TryLocate(local, out int index, out ulong mask))
        {
            return false;
        }

        ulong current = Volatile.Read(ref _bits[index]);
        while ((current & mask) != 0)
        {
            ulong seen = Interlocked.CompareExchange(ref _bits[index], current & ~mask, current);
            if (seen == current)
            {
                _ = Interlocked.Decrement(ref _inUse);
                return true;
            }

            current = seen;
        }

        return false;
    }

    /// <summary>True when the pair is currently handed out.</summary>
    /// <param name="local">A (local address, port) pair.</param>
    /// <returns>True when a connection holds it.</returns>
    public bool IsInUse(InetEndpoint local) =>
        TryLocate(local, out int index, out ulong mask) && (Volatile.Read(ref _bits[index]) & mask) != 0;

    /// <summary>The local address for a client's kept port: a multiplicative hash of its address scaled to the address count (as nf_nat's find_best_ips_proto scales a hash to the range).</summary>
    private int AddressFor(InetAddress client)
    {
        ulong hash = ((client.High * 0x9E37_79B9_7F4A_7C15UL) ^ client.Low) * 0xC2B2_AE3D_27D4_EB4FUL;
        return (int)(((hash >> 32) * (ulong)(uint)_addresses.Length) >> 32);
    }

    private bool TryLocate(InetEndpoint local, out int index, out ulong mask)
    {
        index = 0;
        mask = 0;
        if (local.Port < FirstPort || local.Port > LastPort)
        {
            return false;
        }

        int address = Array.IndexOf(_addresses, local.Address);
        if (address < 0)
        {
            return false;
        }

        int offset = local.Port - FirstPort;
        index = (address * _wordsPerAddress) + (offset / BitsPerWord);
        mask = 1UL << (offset % BitsPerWord);
        return true;
    }
}
